"""scripts/audit_dependencies.py never calls "audited" what it did not audit. Its three outcomes,
audited clean, audited with findings and not audited, each by default (`make audit`, in `make
lint`) and with --strict (`make audit-strict`), from pip-audit reports shaped as pip-audit 2.10
writes them. No network: a fake pip-audit prints the report."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.audit_dependencies import (
    EXIT_CLEAN,
    EXIT_NOT_AUDITED,
    EXIT_VULNERABLE,
    pinned_packages,
    read_report,
    verdict,
)

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = "requirements.txt"
PINNED = pinned_packages(ROOT / REQUIREMENTS)
# What pip-audit's PyPI service says for each package when its JSON API cannot be reached here.
UNREACHABLE = "Dependency not found on PyPI and could not be audited: {name} ({version})"
# What pip-audit prints, and no report, when the service's host does not even resolve.
OFFLINE_STDERR = (
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max"
    " retries exceeded (Caused by NameResolutionError(...: Name or service not known))"
)

Report = dict[str, Any]


def clean_report() -> Report:
    """Every pinned package audited, none vulnerable."""
    return {
        "dependencies": [
            {"name": name, "version": version, "vulns": []} for name, version in PINNED.items()
        ],
        "fixes": [],
    }


def report_with_finding(name: str = "urllib3") -> Report:
    """Every package audited; `name` has a known vulnerability."""
    report = clean_report()
    for dependency in report["dependencies"]:
        if dependency["name"] == name:
            dependency["vulns"] = [{"id": "PYSEC-2026-0001", "fix_versions": ["9.9.9"]}]
    return report


def unreachable_report(*names: str) -> Report:
    """`names` (default: all) skipped as pip-audit skips them when its service is out of reach."""
    report = clean_report()
    report["dependencies"] = [
        {"name": dep["name"], "skip_reason": UNREACHABLE.format(**dep)}
        if not names or dep["name"] in names
        else dep
        for dep in report["dependencies"]
    ]
    return report


def outcome(report: Report | None, strict: bool, why: str = "") -> tuple[str, int]:
    """What the script prints and returns for `report`."""
    lines, code = verdict(
        read_report(report, PINNED, why), strict=strict, requirements=REQUIREMENTS
    )
    return "\n".join(lines), code


# --- The three outcomes, read from the report ----------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_audited_clean_passes_and_says_every_package_was_audited(strict: bool) -> None:
    # Given a report that audited every pinned package and found nothing
    # When it is read
    printed, code = outcome(clean_report(), strict)

    # Then the run passes, with the full count and no banner
    assert code == EXIT_CLEAN
    total = len(PINNED)
    assert printed == (
        f"pip-audit: {total} of {total} packages audited, 0 not audited, 0 vulnerable"
    )


@pytest.mark.parametrize("strict", [False, True])
def test_audited_with_findings_fails_and_names_them(strict: bool) -> None:
    # Given a report that audited every package and found a vulnerability in urllib3
    # When it is read
    printed, code = outcome(report_with_finding("urllib3"), strict)

    # Then the run fails, naming the package, its pinned version and the advisory
    assert code == EXIT_VULNERABLE
    assert f"pip-audit: VULNERABLE urllib3 {PINNED['urllib3']}: PYSEC-2026-0001" in printed
    assert "0 not audited, 1 vulnerable" in printed
    assert "NOT AUDITED" not in printed


def test_not_audited_passes_by_default_under_a_loud_banner() -> None:
    # Given the report pip-audit writes when its vulnerability service is out of reach
    # When it is read as `make audit` (and so `make lint`) reads it
    printed, code = outcome(unreachable_report(), strict=False)

    # Then the run passes, but says loudly and with its counts that nothing was audited
    assert code == EXIT_CLEAN
    total = len(PINNED)
    assert f"pip-audit: 0 of {total} packages audited, {total} not audited" in printed
    assert f"NOT AUDITED: {total} of {total} packages in requirements.txt" in printed
    assert "Dependency not found on PyPI" in printed
    assert "`make audit-strict` fails here" in printed
    banner = [line for line in printed.splitlines() if line.startswith("!")]
    assert banner[0] == banner[-1] == "!" * 78
    assert len(banner) >= 5


def test_not_audited_fails_strict() -> None:
    # Given the same unreachable service
    # When it is read as `make audit-strict` reads it
    printed, code = outcome(unreachable_report(), strict=True)

    # Then the run fails with its own exit code, under the same banner
    assert code == EXIT_NOT_AUDITED
    assert "NOT AUDITED" in printed
    assert "--strict: this run FAILS." in printed


def test_partly_audited_counts_each_package_where_it_belongs() -> None:
    # Given a report that audited all but two packages
    printed, code = outcome(unreachable_report("boto3", "botocore"), strict=True)

    # Then the two are not audited, the others are, and strict still fails
    total = len(PINNED)
    assert f"pip-audit: {total - 2} of {total} packages audited, 2 not audited" in printed
    assert f"NOT AUDITED: 2 of {total} packages" in printed
    assert code == EXIT_NOT_AUDITED


def test_a_package_missing_from_the_report_is_not_audited() -> None:
    # Given a report that is silent about one pinned package
    report = clean_report()
    report["dependencies"] = [d for d in report["dependencies"] if d["name"] != "requests"]

    # When it is read
    audit = read_report(report, PINNED, why="")

    # Then that package counts as not audited, and why is said
    assert "requests" not in audit.audited
    assert audit.not_audited == {"requests": "missing from pip-audit's report"}
    assert outcome(report, strict=True)[1] == EXIT_NOT_AUDITED


def test_no_report_at_all_audits_nothing() -> None:
    # Given a pip-audit that could not even resolve its service's host, and wrote no report
    printed, code = outcome(None, strict=False, why=f"pip-audit gave no report: {OFFLINE_STDERR}")

    # Then every pinned package is not audited, and the run passes only by default
    assert f"0 of {len(PINNED)} packages audited, {len(PINNED)} not audited" in printed
    assert "Name or service not known" in printed
    assert code == EXIT_CLEAN
    assert outcome(None, strict=True, why="no report")[1] == EXIT_NOT_AUDITED


def test_findings_fail_even_where_other_packages_were_not_audited() -> None:
    # Given a vulnerability in idna, and six not audited
    report = report_with_finding("idna")
    report["dependencies"] = [
        {"name": d["name"], "skip_reason": "unreachable"} if d["name"] == "six" else d
        for d in report["dependencies"]
    ]

    # When it is read by default
    printed, code = outcome(report, strict=False)

    # Then the finding fails the run, and the banner still says what went unchecked
    assert code == EXIT_VULNERABLE
    assert "VULNERABLE idna" in printed
    assert "NOT AUDITED: 1 of" in printed


# --- The command, as make runs it, with a fake pip-audit -------------------------------------


@pytest.fixture
def fake_pip_audit(tmp_path: Path) -> Callable[[Report | None], Path]:
    """A pip-audit that records its arguments and prints `report` (None: no report, as offline)."""

    def make(report: Report | None) -> Path:
        (tmp_path / "report.json").write_text(json.dumps(report), encoding="utf-8")
        command = tmp_path / "pip-audit"
        command.write_text(
            f"#!{sys.executable}\n"
            "import json, pathlib, sys\n"
            "here = pathlib.Path(__file__).parent\n"
            "(here / 'argv.json').write_text(json.dumps(sys.argv[1:]))\n"
            "report = json.loads((here / 'report.json').read_text())\n"
            "if report is None:\n"
            f"    sys.stderr.write({OFFLINE_STDERR!r})\n"
            "    sys.exit(1)\n"
            "print(json.dumps(report))\n"
            "sys.exit(1 if any(d.get('vulns') for d in report['dependencies']) else 0)\n",
            encoding="utf-8",
        )
        command.chmod(0o755)
        return command

    return make


def make_audit(target: str, pip_audit: Path) -> subprocess.CompletedProcess[str]:
    """`make <target>` with this interpreter and the fake pip-audit (the venv is not remade)."""
    command = ["make", "--no-print-directory", "-o", "venv", target]
    variables = [f"BIN={Path(sys.executable).parent}", f"PIP_AUDIT={pip_audit}"]
    return subprocess.run(
        command + variables,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


MAKE_FAILED = 2  # make's own exit code when a recipe fails


@pytest.mark.parametrize(
    ("report", "audit_ok", "strict_ok"),
    [
        pytest.param(clean_report(), True, True, id="audited-clean"),
        pytest.param(report_with_finding(), False, False, id="audited-with-findings"),
        pytest.param(unreachable_report(), True, False, id="not-audited"),
        pytest.param(None, True, False, id="not-audited-no-report"),
    ],
)
def test_make_audit_passes_unaudited_and_make_audit_strict_does_not(
    fake_pip_audit: Callable[[Report | None], Path],
    report: Report | None,
    audit_ok: bool,
    strict_ok: bool,
) -> None:
    # Given pip-audit answering with `report`
    pip_audit = fake_pip_audit(report)

    # When make audit and make audit-strict run
    default, strict = make_audit("audit", pip_audit), make_audit("audit-strict", pip_audit)

    # Then each passes or fails as the outcome says, and says NOT AUDITED whenever it was not
    assert (default.returncode, strict.returncode) == (
        0 if audit_ok else MAKE_FAILED,
        0 if strict_ok else MAKE_FAILED,
    ), default.stdout + default.stderr + strict.stdout + strict.stderr
    unaudited = report is None or "skip_reason" in json.dumps(report)
    assert ("NOT AUDITED" in default.stdout) == unaudited
    assert ("NOT AUDITED" in strict.stdout) == unaudited


def test_pip_audit_checks_exactly_the_pins_without_installing_them(
    fake_pip_audit: Callable[[Report | None], Path],
) -> None:
    # Given a fully pinned requirements.txt (test_requirements.py holds it closed)
    pip_audit = fake_pip_audit(clean_report())

    # When make audit runs
    done = make_audit("audit", pip_audit)

    # Then pip-audit is asked about those pins alone, with no install and no resolution
    assert done.returncode == 0, done.stdout + done.stderr
    argv = json.loads((pip_audit.parent / "argv.json").read_text(encoding="utf-8"))
    assert argv[:2] == ["-r", REQUIREMENTS]
    assert {"--no-deps", "--disable-pip", "json"} <= set(argv)
