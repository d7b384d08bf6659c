"""The README (and the docs it sends a reader to) tell the truth about the code: its outcome table
is the code's, its examples are the files the tests run, every test and fault case the README and
docs/testing.md cite exists, every variable the function reads is documented, and every document
it points to is there."""

from __future__ import annotations

import re
from pathlib import Path

from cashout_cancel.cancel.outcomes import OUTCOME_TABLE, Outcome
from cashout_cancel.credentials import extension
from cashout_cancel.settings import ENV_NAMES
from tests.faults.test_d24_faults import D24_FAULTS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Where tests are cited by name: the README, and the failure table in docs/testing.md.
CITING = README + (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")


def table_after(header: str) -> list[list[str]]:
    """The rows (cells stripped) of the Markdown table whose header row starts with `header`."""
    lines = README[README.index(header) :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_outcome_table_is_the_codes_status_code_for_each_outcome() -> None:
    rows = table_after("| situation | statusCode | outcome |")
    documented = {row[2].strip("`"): int(row[1]) for row in rows}
    assert documented == {outcome.value: code for outcome, (code, _) in OUTCOME_TABLE.items()}
    assert len(rows) == len(Outcome)


def test_every_python_example_is_code_from_the_examples_the_tests_run() -> None:
    examples = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "examples").glob("*.py"))
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        assert block.rstrip("\n") in examples, f"not in examples/: {block[:80]}"


def test_every_test_the_readme_and_the_failure_table_cite_exists() -> None:
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    cited = set(re.findall(r"`(test_\w+)(?![\w.])", CITING))  # a test, not a file
    assert cited
    assert cited <= defined, f"cited but not defined: {sorted(cited - defined)}"


def test_every_fault_case_the_failure_table_cites_is_in_the_fault_suite() -> None:
    pattern = r"`(?:test_d24_fault_gets_the_contract_answer)?\[([\w-]+)\]`"
    cited = set(re.findall(pattern, CITING))
    assert cited
    assert cited <= {case.id for case in D24_FAULTS}


def test_every_variable_the_function_reads_is_documented() -> None:
    rows = table_after("| variable | default | meaning |")
    documented = {name for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row[0])}
    read = {*ENV_NAMES, extension.PORT_VARIABLE}  # the settings, and the extension's port
    assert read <= documented
    assert {name for name in documented if not name.startswith("POWERTOOLS_")} == read


def test_every_document_and_file_the_readme_points_to_exists() -> None:
    for path in set(re.findall(r"\b((?:docs|examples|tests|src)/[\w./-]+\.(?:md|py|png))", README)):
        assert (ROOT / path).exists(), path
