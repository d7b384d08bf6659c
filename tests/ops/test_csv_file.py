"""A bulk cancel file is read line by line and validated with the function's own rules."""

from __future__ import annotations

from pathlib import Path

from ops.csv_file import check_file
from ops.function import CancelRequest
from tests.ops.conftest import write_csv


def test_valid_lines_become_requests_with_their_line_numbers(tmp_path: Path) -> None:
    # Given a file with a header and two cancels, one id written as a quoted string
    path = write_csv(tmp_path, 'cashout_id,external_id\n1001,ext-1001\n"1002",ext-1002\n')

    # When it is checked
    checked = check_file(path)

    # Then both lines are ready, numbered as in the file (the header is line 1)
    assert not checked.refused
    assert [(line.number, line.request) for line in checked.lines] == [
        (2, CancelRequest(1001, "ext-1001")),
        (3, CancelRequest(1002, "ext-1002")),
    ]


def test_each_bad_line_is_named_with_its_fields_values_and_rules(tmp_path: Path) -> None:
    # Given a file with one good line and four bad ones
    path = write_csv(
        tmp_path,
        "cashout_id,external_id\n"
        "1001,ext-1001\n"
        "01002,ext-1002\n"  # leading zero
        "1003,\n"  # empty external_id
        "-4,\n"  # both wrong
        "1005,ext-1005,extra\n",  # a third field
    )

    # When it is checked
    checked = check_file(path)

    # Then it is refused, and each bad line says where, what and why
    assert checked.refused
    assert [str(bad) for bad in checked.bad] == [
        "line 3: cashout_id '01002': has a leading zero",
        "line 4: external_id '': empty",
        "line 5: cashout_id '-4': has a sign (digits only, no + or -); external_id '': empty",
        "line 6: line '1005,ext-1005,extra': has 3 fields, the header has 2",
    ]


def test_a_wrong_header_refuses_the_whole_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id,external\n1001,ext-1001\n")

    checked = check_file(path)

    assert checked.refused
    (bad,) = checked.bad
    assert str(bad) == (
        "line 1: header 'id,external': must be cashout_id,external_id"
        " or cashout_id,external_id,merchant"
    )
    assert checked.lines == []


def test_an_empty_file_or_a_header_alone_has_nothing_to_send(tmp_path: Path) -> None:
    assert check_file(write_csv(tmp_path, "", "empty.csv")).refused
    only_header = check_file(write_csv(tmp_path, "cashout_id,external_id\n", "header.csv"))
    assert only_header.refused
    assert only_header.bad == []


def test_a_spreadsheets_byte_order_mark_and_blank_lines_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfcashout_id,external_id\r\n1001,ext-1001\r\n\r\n\r\n")

    checked = check_file(path)

    assert not checked.refused
    assert [line.request for line in checked.lines] == [CancelRequest(1001, "ext-1001")]


def test_a_repeated_line_is_kept_once_and_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, "cashout_id,external_id\n1001,ext-1001\n1002,ext-1002\n1001,ext-1001\n"
    )

    checked = check_file(path)

    assert [line.number for line in checked.lines] == [2, 3]
    assert checked.repeats == {4: 2}
