"""A bulk cancel file: CSV with the header `cashout_id,external_id`, one cancel per line, each
validated by the function's own `parse_request` before anything is sent (CONTRACT section 9)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from cashout_cancel.cancel.request import CancelRequest, InvalidRequest, parse_request

HEADER = ("cashout_id", "external_id")


@dataclass(frozen=True)
class Line:
    """A valid line: its number in the file (the header is line 1) and its request."""

    number: int
    request: CancelRequest


@dataclass(frozen=True)
class BadLine:
    """A line refused: where, which fields, and why (the function's own words)."""

    number: int
    fields: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return f"line {self.number} ({', '.join(self.fields)}): {self.reason}"


@dataclass
class CheckedFile:
    """Every line of a file, sorted into what would be sent, refused or skipped as a repeat."""

    lines: list[Line] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)  # line number -> the line it repeats

    @property
    def refused(self) -> bool:
        """True when nothing of the file may be sent."""
        return bool(self.bad) or not self.lines


def check_file(path: Path) -> CheckedFile:
    """Read and validate every line of `path`; a wrong header refuses the whole file."""
    checked = CheckedFile()
    first_seen: dict[CancelRequest, int] = {}
    # utf-8-sig: spreadsheets save CSV with a byte order mark, which is not part of the header.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(header) != HEADER:
            found = "an empty file" if header is None else ",".join(header)
            checked.bad.append(
                BadLine(1, ("header",), f"must be {','.join(HEADER)}, found {found}")
            )
            return checked
        for row in reader:
            _check_row(row, reader.line_num, checked, first_seen)
    return checked


def _check_row(
    row: list[str], number: int, checked: CheckedFile, first_seen: dict[CancelRequest, int]
) -> None:
    if not row or row == [""]:
        return  # blank lines (a trailing newline or two) carry nothing
    if len(row) != len(HEADER):
        checked.bad.append(BadLine(number, ("row",), f"has {len(row)} fields, expected 2"))
        return
    try:
        request = parse_request(dict(zip(HEADER, row, strict=True)))
    except InvalidRequest as problem:
        fields = tuple(
            name
            for name, valid in zip(HEADER, (problem.cashout_id, problem.external_id), strict=True)
            if valid is None
        )
        checked.bad.append(BadLine(number, fields, problem.message))
        return
    if request in first_seen:
        # The same cancel twice: sending it once is enough (the second would answer
        # ALREADY_CANCELLED), and the summary says which line it repeats.
        checked.repeats[number] = first_seen[request]
        return
    first_seen[request] = number
    checked.lines.append(Line(number, request))
