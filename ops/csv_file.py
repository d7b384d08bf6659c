"""A bulk cancel file: CSV in UTF-8 with the header `cashout_id,external_id` (and optionally
`,merchant`), one cancel per line, each validated by the function's own `parse_request` before
anything is sent (docs/contract.md sections 9 and 11).

A file that cannot be read as such (no such path, a directory, another encoding) is an
`OperatorError`; a file that can be read but holds bad lines is refused line by line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from ops.errors import OperatorError
from ops.function import CancelRequest, InvalidRequest, parse_request
from ops.merchant import merchant_rule
from ops.why import cashout_id_rule, external_id_rule, shown

HEADER = ("cashout_id", "external_id")
MERCHANT = "merchant"
HEADERS = (HEADER, (*HEADER, MERCHANT))
# Byte order marks of encodings a spreadsheet may save CSV in; UTF-32's before UTF-16's, whose
# little-endian mark begins UTF-32's.
_OTHER_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
SAVE_AS_UTF8 = 'save it as UTF-8 (in Excel: "CSV UTF-8 (Comma delimited)") and send that file'


@dataclass(frozen=True)
class Line:
    """A valid line: its number in the file (the header is line 1), its request and merchant."""

    number: int
    request: CancelRequest
    merchant: str | None = None  # None: the default account


@dataclass(frozen=True)
class Problem:
    """One field of a bad line: its value as found, and the rule it breaks."""

    field: str
    value: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field} {shown(self.value)}: {self.rule}"


@dataclass(frozen=True)
class BadLine:
    """A line refused, with every problem it has."""

    number: int
    problems: tuple[Problem, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the fields at fault."""
        return tuple(problem.field for problem in self.problems)

    def __str__(self) -> str:
        return f"line {self.number}: {'; '.join(map(str, self.problems))}"


@dataclass
class CheckedFile:
    """Every line of a file, sorted into what would be sent, refused or skipped as a repeat."""

    digest: str = ""  # SHA-256 of the file's bytes: what a journal of its sending is kept for
    lines: list[Line] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)  # line number -> the line it repeats

    @property
    def refused(self) -> bool:
        """True when nothing of the file may be sent."""
        return bool(self.bad) or not self.lines


def check_file(path: Path) -> CheckedFile:
    """Read and validate every line of `path`; a wrong header refuses the whole file."""
    data = _read_bytes(path)
    checked = CheckedFile(digest=hashlib.sha256(data).hexdigest())
    reader = csv.reader(io.StringIO(_decode(path, data), newline=""))
    try:
        header = next(reader, None)
        if header is None or tuple(header) not in HEADERS:
            checked.bad.append(BadLine(1, (_header_problem(header),)))
            return checked
        first_seen: dict[tuple[CancelRequest, str | None], int] = {}
        start = reader.line_num + 1  # a record is numbered by the line it starts on
        for row in reader:
            _check_row(row, start, tuple(header), checked, first_seen)
            start = reader.line_num + 1
    except csv.Error as exc:
        where = f"{path}: line {reader.line_num}"
        raise OperatorError(f"{where} is not readable as CSV ({exc})") from None
    return checked


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise OperatorError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise OperatorError(f"{path}: is a directory, not a CSV file") from None
    except PermissionError:
        raise OperatorError(f"{path}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise OperatorError(f"{path}: cannot be read ({exc.strerror})") from None


def _decode(path: Path, data: bytes) -> str:
    """The file's text: UTF-8, with or without the byte order mark spreadsheets write."""
    for mark, encoding in _OTHER_ENCODINGS:
        if data.startswith(mark):
            raise OperatorError(
                f"{path}: the file is {encoding} (it starts with a {encoding} byte order mark),"
                f" not UTF-8: {SAVE_AS_UTF8}"
            )
    if b"\x00" in data:
        # Text never holds NUL bytes; UTF-16 without its mark is half NULs.
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise OperatorError(
            f"{path}: the file holds NUL bytes (line {line}): it is not UTF-8 text, perhaps"
            f" UTF-16; {SAVE_AS_UTF8}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise OperatorError(
            f"{path}: the file is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line},"
            f" as Windows-1252 or Latin-1 would write a non-ASCII letter); {SAVE_AS_UTF8}"
        ) from None


def _header_problem(header: list[str] | None) -> Problem:
    expected = " or ".join(",".join(names) for names in HEADERS)
    if header is None:
        return Problem("header", "", f"the file is empty; the first line must be {expected}")
    return Problem("header", ",".join(header), f"must be {expected}")


def _check_row(
    row: list[str],
    number: int,
    header: tuple[str, ...],
    checked: CheckedFile,
    first_seen: dict[tuple[CancelRequest, str | None], int],
) -> None:
    if not row or row == [""]:
        return  # blank lines (a trailing newline or two) carry nothing
    if len(row) != len(header):
        rule = f"has {len(row)} fields, the header has {len(header)}"
        checked.bad.append(BadLine(number, (Problem("line", ",".join(row), rule),)))
        return
    found = _checked_line(number, dict(zip(header, row, strict=True)))
    if isinstance(found, BadLine):
        checked.bad.append(found)
        return
    key = (found.request, found.merchant)
    if key in first_seen:
        # The same cancel twice: sending it once is enough (the second would answer
        # ALREADY_CANCELLED), and the summary says which line it repeats.
        checked.repeats[number] = first_seen[key]
        return
    first_seen[key] = number
    checked.lines.append(found)


def _checked_line(number: int, cells: dict[str, str]) -> Line | BadLine:
    """The function's verdict on a line, and, for a refusal, why each field is refused."""
    problems: list[Problem] = []
    request: CancelRequest | None = None
    try:
        request = parse_request({name: cells[name] for name in HEADER})
    except InvalidRequest as refusal:
        # The function says which fields were valid; the others are explained here.
        for name, valid, rule in (
            ("cashout_id", refusal.cashout_id, cashout_id_rule),
            ("external_id", refusal.external_id, external_id_rule),
        ):
            if valid is None:
                why = rule(cells[name]) or f"refused by the function: {refusal.message}"
                problems.append(Problem(name, cells[name], why))
    merchant = cells.get(MERCHANT) or None  # an empty cell: the default account
    merchant_problem = merchant_rule(merchant) if merchant is not None else None
    if merchant is not None and merchant_problem is not None:
        problems.append(Problem(MERCHANT, merchant, merchant_problem))
    if problems or request is None:
        return BadLine(number, tuple(problems))
    return Line(number, request, merchant)
