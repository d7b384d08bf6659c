"""What the bulk run sends: sandbox cashouts in every state, the CSV lines that name them, a few
lines sent twice, and a few invalid lines. Pure, and the same for the same count."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from local.d24_sandbox import (
    CANCELLED,
    COMPLETED,
    DELIVERED,
    ON_HOLD,
    PENDING,
    REJECTED,
    D24Sandbox,
)
from ops.csv_file import HEADER

FIRST_CASHOUT_ID = 50_001  # clear of the sandbox's seeded ids and the events in events/
UNKNOWN = None  # a line naming a cashout D24 does not have
# Every twenty lines, by D24 state before the run: most cancellable, as in a real bulk cancel.
STATE_MIX: tuple[int | None, ...] = (
    (PENDING,) * 8
    + (ON_HOLD,) * 3
    + (COMPLETED,) * 2
    + (CANCELLED,) * 2
    + (REJECTED,) * 2
    + (DELIVERED,) * 2
    + (UNKNOWN,)
)
REPEATED_IN_FILE = 3  # lines the file repeats: ops send sends each cancel once and says so
# The operator sends these again in a second file: each reaches the queue twice.
SENT_AGAIN_STATES = (PENDING, PENDING, PENDING, ON_HOLD, COMPLETED)
# Lines the function's validation refuses (ops send refuses the whole file for any of them).
INVALID_ROWS: tuple[tuple[str, str], ...] = (
    ("12a", "ext-not-a-number"),
    ("-5", "ext-negative"),
    ("0042", "ext-leading-zeros"),
    ("", "ext-no-cashout-id"),
    (str(FIRST_CASHOUT_ID), ""),  # a real cashout, but an empty external_id
)


@dataclass(frozen=True)
class Line:
    """One cancel: the cashout it names, and its D24 state before the run (None: unknown)."""

    cashout_id: int
    external_id: str
    status: int | None

    @property
    def row(self) -> tuple[str, str]:
        """The line as the CSV file holds it."""
        return str(self.cashout_id), self.external_id


@dataclass(frozen=True)
class Plan:
    """The lines of the bulk run."""

    lines: tuple[Line, ...]  # one per cashout
    repeated: tuple[Line, ...]  # repeated in the same file
    sent_again: tuple[Line, ...]  # sent again, in a second file
    invalid: tuple[tuple[str, str], ...] = INVALID_ROWS

    def file_rows(self) -> list[tuple[str, str]]:
        """The operator's file: every line, the invalid ones spread through it, repeats last."""
        rows = [line.row for line in self.lines]
        step = len(rows) // (len(self.invalid) + 1)
        for n, bad in enumerate(self.invalid, start=1):
            rows.insert(n * step + n - 1, bad)
        return rows + [line.row for line in self.repeated]

    def valid_rows(self) -> list[tuple[str, str]]:
        """The same file without its invalid lines."""
        invalid = set(self.invalid)
        return [row for row in self.file_rows() if row not in invalid]

    def times_sent(self) -> dict[tuple[int, str], int]:
        """How many messages name each cashout: once, twice for the lines sent again."""
        counts = {(line.cashout_id, line.external_id): 1 for line in self.lines}
        for line in self.sent_again:
            counts[line.cashout_id, line.external_id] += 1
        return counts

    @property
    def valid_messages(self) -> int:
        """Messages with a valid cancel that reach the queue."""
        return len(self.lines) + len(self.sent_again)


def make_plan(count: int) -> Plan:
    """`count` cashouts (at least len(STATE_MIX)) in the states of STATE_MIX, in turn."""
    if count < len(STATE_MIX):
        raise ValueError(f"the bulk run needs at least {len(STATE_MIX)} cashouts, got {count}")
    lines = tuple(
        Line(cashout_id, f"ext-{cashout_id}", STATE_MIX[n % len(STATE_MIX)])
        for n, cashout_id in enumerate(range(FIRST_CASHOUT_ID, FIRST_CASHOUT_ID + count))
    )
    pending = [line for line in lines if line.status == PENDING]
    repeated = tuple(
        pending[n * len(pending) // (REPEATED_IN_FILE + 1)] for n in range(1, REPEATED_IN_FILE + 1)
    )
    return Plan(lines, repeated, _first_of_each(lines, SENT_AGAIN_STATES))


def _first_of_each(lines: Sequence[Line], states: Iterable[int]) -> tuple[Line, ...]:
    """For each state in turn, the first line in that state not picked yet."""
    picked: list[Line] = []
    for state in states:
        picked.append(next(line for line in lines if line.status == state and line not in picked))
    return tuple(picked)


def seed(sandbox: D24Sandbox, plan: Plan) -> None:
    """Create (or reset) the plan's cashouts in the sandbox; unknown ones stay unknown."""
    for line in plan.lines:
        if line.status is None:
            continue
        rejection = ("R01", "Invalid account") if line.status == REJECTED else (None, None)
        sandbox.add_cashout(line.cashout_id, line.external_id, line.status, *rejection)


def write_csv(path: Path, rows: Iterable[tuple[str, str]]) -> Path:
    """A bulk cancel file as operators write it: the header, then one line per cancel."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path
