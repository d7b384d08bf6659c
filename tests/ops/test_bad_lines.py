"""Refusals an operator can act on: each bad line names its number, the field, the value as found
(shortened, control characters escaped) and the rule it breaks; at most 20 are listed. The
function's `parse_request` stays the judge: the tool refuses exactly what it refuses."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.csv_file import check_file
from ops.function import InvalidRequest, parse_request
from tests.ops.conftest import Ran, write_csv

Tool = Callable[..., Ran]
HEADER = "cashout_id,external_id\n"


def rows_file(directory: Path, rows: list[tuple[str, str]]) -> Path:
    """A CSV file of `rows` under the header, quoted by csv as a spreadsheet would."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)  # \r\n ends a record: a \n or \r inside a value is quoted
    writer.writerow(["cashout_id", "external_id"])
    writer.writerows(rows)
    return write_csv(directory, text.getvalue())


def refusal_of(tmp_path: Path, cashout_id: str, external_id: str = "ext-1") -> str:
    """How the tool words its refusal of one line."""
    (bad,) = check_file(rows_file(tmp_path, [(cashout_id, external_id)])).bad
    return str(bad)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "empty"),
        ("0042", "has a leading zero"),
        ("0", "zero (cashout ids start at 1)"),
        ("+42", "has a sign (digits only, no + or -)"),
        ("-42", "has a sign (digits only, no + or -)"),
        (" 42", "has a space (digits only)"),
        ("4 2", "has a space (digits only)"),
        ("42\t", "has a space (digits only)"),
        ("12345678901234567890", "too long: over 19 digits"),
        ("9223372036854775808", "too long: above 2^63-1 (9223372036854775807)"),
        ("42.0", "not a number: has a decimal point"),
        ("4,2", "not a number: has a decimal point"),
        ("4e2", "not a number: has an exponent"),
        ("1E+5", "not a number: has an exponent"),
        ("12a", "not a number: has letters or other characters than 0-9"),
        ("0x2A", "not a number: has letters or other characters than 0-9"),
        ("\u0664\u0662", "not a number: has digits other than 0-9"),  # Arabic-Indic 42
    ],
)
def test_each_refused_cashout_id_names_the_rule_it_breaks(
    tmp_path: Path, value: str, rule: str
) -> None:
    assert refusal_of(tmp_path, value) == f"line 2: cashout_id {value!r}: {rule}"


def test_the_largest_cashout_id_passes_and_one_more_does_not(tmp_path: Path) -> None:
    checked = check_file(rows_file(tmp_path, [("9223372036854775807", "a"), ("1", "b")]))

    assert [line.request.cashout_id for line in checked.lines] == [2**63 - 1, 1]


@pytest.mark.parametrize(
    ("value", "rule"),
    [("", "empty"), ("x" * 101, "too long: over 100 characters")],
    ids=["empty", "101-characters"],
)
def test_each_refused_external_id_names_the_rule_it_breaks(
    tmp_path: Path, value: str, rule: str
) -> None:
    shown = repr(value) if len(value) <= 40 else f"{value[:40]!r}... ({len(value)} characters)"

    assert refusal_of(tmp_path, "42", value) == f"line 2: external_id {shown}: {rule}"


def test_a_value_is_shown_shortened_with_its_control_characters_escaped(tmp_path: Path) -> None:
    # Given a cashout_id pasted with a bell, a carriage return and far too much after it
    value = "42\x07\r" + "9" * 60

    # Then it is shown escaped, cut at 40 characters, with its real length
    assert refusal_of(tmp_path, value) == (
        "line 2: cashout_id '42\\x07\\r999999999999999999999999999999999999'... (64 characters):"
        " has a space (digits only)"
    )


def test_at_most_20_bad_lines_are_listed_then_a_count_of_the_rest(
    tmp_path: Path, tool: Tool
) -> None:
    # Given a file of 30 lines with a leading zero, after one good line
    path = write_csv(tmp_path, HEADER + "1,ok\n" + "".join(f"0{n},ext\n" for n in range(1, 31)))

    # When it is checked
    ran = tool("send", str(path), "--dry-run")

    # Then the first 20 are listed, the other 10 counted, the rules stated once
    assert ran.status == 1
    listed = [line for line in ran.out.splitlines() if line.startswith("  line ")]
    assert listed[0] == "  line 3: cashout_id '01': has a leading zero"
    assert listed[-1] == "  line 22: cashout_id '020': has a leading zero"
    assert len(listed) == 20
    assert "\n  ... and 10 more bad lines\n" in ran.out
    assert ran.out.startswith("refused: 30 bad line(s); nothing was sent\n")
    assert "rules: cashout_id: digits only, 1 to 2^63-1 (at most 19 digits)" in ran.out
    assert ran.out.endswith("summary: 0 sent, 30 refused\n")


# --- The function is the judge -------------------------------------------------------------------

EDGES = [
    "", "0", "1", "01", "+1", "-1", " 1", "1 ", "\t1", "1.0", "1e3", "1E3", "abc", "0x1", "1_000",
    "\uff11", "\u0663", "\u00b2", "\u0661\u0662\u0663",  # fullwidth, Arabic-Indic, superscript
    "9223372036854775807", "9223372036854775808", "99999999999999999999",
]  # fmt: skip
# Text a cashout_id cell may hold: digits and what is mistaken for them, and anything else.
CELL = st.one_of(
    st.sampled_from(EDGES),
    st.integers(min_value=-(2**64), max_value=2**64).map(str),
    st.text(alphabet="0123456789 +-.,eE\t\u0660\u0661\uff11x", max_size=22),
    st.text(alphabet=st.characters(exclude_characters="\x00", codec="utf-8"), max_size=24),
)
# codec="utf-8": lone surrogates cannot be written to a UTF-8 file at all: no operator has one.
EXTERNAL = st.one_of(
    st.sampled_from(["", "a", "x" * 100, "x" * 101, " ", "\u00e9" * 100]),
    st.text(alphabet=st.characters(exclude_characters="\x00", codec="utf-8"), max_size=120),
)


def function_verdict(cashout_id: str, external_id: str) -> object:
    """The function's own answer: the request, or the fields it refuses."""
    try:
        return parse_request({"cashout_id": cashout_id, "external_id": external_id})
    except InvalidRequest as refusal:
        return {
            name
            for name, valid in (
                ("cashout_id", refusal.cashout_id),
                ("external_id", refusal.external_id),
            )
            if valid is None
        }


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CELL, EXTERNAL), min_size=1, max_size=25))
def test_the_tool_refuses_exactly_what_the_functions_parse_request_refuses(
    rows: list[tuple[str, str]],
) -> None:
    # Given a file of lines with all sorts of values (NUL aside: a file holding one is refused
    # whole, before any line is read)
    with tempfile.TemporaryDirectory() as folder:
        # When the tool checks it
        checked = check_file(rows_file(Path(folder), rows))

    # Then each line is accepted as the function accepts it, or refused on the fields the
    # function refuses, each with a rule of the tool's own, never its fallback
    accepted = {line.number: line.request for line in checked.lines}
    refused = {bad.number: bad for bad in checked.bad}
    numbers = sorted([*accepted, *refused, *checked.repeats])  # a value may span lines
    assert len(numbers) == len(rows)
    first_of: dict[object, int] = {}
    for number, (cashout_id, external_id) in zip(numbers, rows, strict=True):
        verdict = function_verdict(cashout_id, external_id)
        if isinstance(verdict, set):
            assert set(refused[number].fields) == verdict, (cashout_id, external_id)
            assert all("refused by the function" not in p.rule for p in refused[number].problems)
        elif verdict in first_of:
            assert checked.repeats[number] == first_of[verdict]
        else:
            first_of[verdict] = number
            assert accepted[number] == verdict
