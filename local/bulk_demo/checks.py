"""What the bulk run must show, judged from outside the function: D24's state, the result events
on the bus (the ledger's view), the dead-letter queue and the queue itself. Pure: each check takes
what was observed and says PASS or FAIL with the offending items.

The oracle for each line is the cashout's D24 state before the run (plan.py), not the function's
answers: a cancellable cashout ends CANCELLED (then ALREADY_CANCELLED for every further message
naming it), a cancelled one ALREADY_CANCELLED, one in another state NOT_CANCELLABLE, an unknown
one NOT_FOUND.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.bulk_demo.plan import Plan
from local.d24_sandbox import CANCELLABLE, CANCELLED

SHOWN = 5  # offending items named per failed check
Result = Mapping[str, Any]  # a published result event's detail
StatusOf = Callable[[int], "int | None"]  # D24's status of a cashout now (None: no such cashout)


@dataclass(frozen=True)
class Observed:
    """What the bulk run left behind, seen from outside the function."""

    results: Sequence[Result]  # every result event published during the run
    status_of: StatusOf  # D24's state now
    delivered: Mapping[str, str]  # message id -> body, every message the event source delivered
    dead_letters: Sequence[str]  # the bodies in CancelDeadLetterQueue
    queue_left: int  # messages still in CancelQueue
    timed_out: bool  # the event source gave up before the queue was empty
    d24_peak: int  # the most requests D24 served at once
    tool_exit_codes: Sequence[int]  # ops send's, for each of the operator's three runs


# The operator's runs of ops send: the file with invalid lines (refused), without them, again.
TOOL_EXIT_CODES = (1, 0, 0)


@dataclass(frozen=True)
class Check:
    """One thing the run must show, and whether it did."""

    name: str
    passed: bool
    detail: str


def bulk_checks(plan: Plan, seen: Observed, in_flight_limit: int) -> tuple[Check, ...]:
    """Every check of the bulk run, in the order the output lists them."""
    return (
        sent_by_the_tool(seen.tool_exit_codes, TOOL_EXIT_CODES),
        agrees_with_d24(seen.results, seen.status_of),
        one_result_per_message(plan, seen.results, seen.delivered),
        outcomes_as_planned(plan, seen.results),
        invalid_lines_dead_lettered(plan, seen.dead_letters),
        in_flight_bounded(seen.d24_peak, in_flight_limit),
        queue_drained(seen.queue_left, seen.timed_out),
    )


def expected_outcomes(status: int | None, times: int) -> Counter[str]:
    """The results `times` messages naming one cashout end with, from its state before the run."""
    if status is None:
        return Counter({"NOT_FOUND": times})
    if status in CANCELLABLE:
        # `+ Counter()` drops the zero count of a cashout named once.
        return Counter({"CANCELLED": 1, "ALREADY_CANCELLED": times - 1}) + Counter()
    if status == CANCELLED:
        return Counter({"ALREADY_CANCELLED": times})
    return Counter({"NOT_CANCELLABLE": times})


def sent_by_the_tool(exit_codes: Sequence[int], expected: Sequence[int]) -> Check:
    """The operators' tool refused the file with invalid lines and sent the others."""
    wrong = [
        f"run {n} exited {code}, expected {want}"
        for n, (code, want) in enumerate(zip(exit_codes, expected, strict=True), start=1)
        if code != want
    ]
    return _check(
        "ops send refused the file with invalid lines, then sent every valid line",
        wrong,
        f"exit statuses {', '.join(map(str, exit_codes))}",
    )


def agrees_with_d24(results: Sequence[Result], status_of: StatusOf) -> Check:
    """Every published result is true of D24's state now (CONTRACT section 5)."""
    wrong = [_describe(result) for result in results if not _true_of_d24(result, status_of)]
    return _check(
        "every cashout's D24 state agrees with its published result",
        wrong,
        f"{len(results)} results: CANCELLED/ALREADY_CANCELLED are Cancelled at D24,"
        " NOT_CANCELLABLE carry D24's status, NOT_FOUND are unknown to D24",
    )


def _true_of_d24(result: Result, status_of: StatusOf) -> bool:
    now = status_of(int(result.get("cashout_id") or 0))
    outcome = result.get("outcome")
    if outcome in ("CANCELLED", "ALREADY_CANCELLED"):
        return now == CANCELLED and result.get("cashout_status") == CANCELLED
    if outcome == "NOT_CANCELLABLE":
        return now is not None and now != CANCELLED and result.get("cashout_status") == now
    if outcome == "NOT_FOUND":
        return now is None
    return False  # nothing else is a final result a bulk cancel may publish


def one_result_per_message(
    plan: Plan, results: Sequence[Result], delivered: Mapping[str, str]
) -> Check:
    """Each valid message has exactly one published result, under its own message id, and each
    cashout as many as the messages that named it."""
    problems: list[str] = []
    ids = Counter(str(result.get("request_id")) for result in results)
    problems += [f"message {mid} has {n} results" for mid, n in ids.items() if n > 1]
    problems += [
        f"result for {mid}, a message never delivered" for mid in ids if mid not in delivered
    ]
    problems += [
        f"result {_describe(r)} is not from the sqs caller"
        for r in results
        if r.get("caller") != "sqs"
    ]
    per_cashout = Counter(
        (result.get("cashout_id"), result.get("external_id")) for result in results
    )
    for (cashout_id, external_id), times in plan.times_sent().items():
        got = per_cashout.get((cashout_id, external_id), 0)
        if got != times:
            problems.append(f"cashout {cashout_id}: {got} results for {times} message(s)")
    return _check(
        "every valid message got exactly one final published result",
        problems,
        f"{plan.valid_messages} valid messages, {len(ids)} published results",
    )


def outcomes_as_planned(plan: Plan, results: Sequence[Result]) -> Check:
    """Each cashout's results are the ones its state before the run calls for; a cashout sent
    twice is cancelled once and then ALREADY_CANCELLED."""
    got: dict[tuple[Any, Any], Counter[str]] = {}
    for result in results:
        key = (result.get("cashout_id"), result.get("external_id"))
        got.setdefault(key, Counter())[str(result.get("outcome"))] += 1
    times = plan.times_sent()
    wrong = []
    for line in plan.lines:
        key = (line.cashout_id, line.external_id)
        want = expected_outcomes(line.status, times[key])
        if got.get(key, Counter()) != want:
            wrong.append(
                f"cashout {line.cashout_id}: {_counts(got.get(key))}, expected {_counts(want)}"
            )
    twice = [line.cashout_id for line in plan.sent_again]
    return _check(
        "each result is the one the cashout's state before the run calls for",
        wrong,
        f"sent twice: {', '.join(map(str, twice))}; a cancellable one is CANCELLED once, then"
        " ALREADY_CANCELLED",
    )


def invalid_lines_dead_lettered(plan: Plan, dead_letters: Sequence[str]) -> Check:
    """Every invalid line waits in the dead-letter queue, and nothing else does."""
    want = Counter(invalid_body(row) for row in plan.invalid)
    got = Counter(dead_letters)
    missing = [f"missing {body}" for body in (want - got).elements()]
    extra = [f"unexpected {body}" for body in (got - want).elements()]
    return _check(
        "every invalid line ended in the dead-letter queue, and nothing else did",
        missing + extra,
        f"{len(dead_letters)} in CancelDeadLetterQueue",
    )


def in_flight_bounded(peak: int, limit: int) -> Check:
    """D24 never saw more cancels from the queue at once than CONTRACT section 9 allows."""
    problems = [f"{peak} requests in flight at once"] if peak > limit else []
    return _check(
        "D24 never saw more than MaximumConcurrency x BULK_CONCURRENCY requests at once",
        problems,
        f"at most {peak}, limit {limit}",
    )


def queue_drained(left: int, timed_out: bool) -> Check:
    """The event source worked the queue to the end, in time."""
    problems = [f"{left} message(s) left in CancelQueue"] if left else []
    problems += ["the event source ran out of time"] if timed_out else []
    return _check("the queue is empty", problems, "nothing visible or in flight")


def invalid_body(row: tuple[str, str]) -> str:
    """An invalid line as another producer sends it: the CSV fields as a JSON object."""
    return json.dumps(dict(zip(("cashout_id", "external_id"), row, strict=True)))


def _check(name: str, problems: Sequence[str], detail: str) -> Check:
    if not problems:
        return Check(name, True, detail)
    shown = "; ".join(problems[:SHOWN])
    more = f" and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return Check(name, False, f"{len(problems)} problem(s): {shown}{more}")


def _describe(result: Result) -> str:
    outcome, cashout_id = result.get("outcome"), result.get("cashout_id")
    return f"{outcome} for cashout {cashout_id} (status {result.get('cashout_status')})"


def _counts(counts: Counter[str] | None) -> str:
    return (
        ", ".join(f"{n} {outcome}" for outcome, n in sorted((counts or Counter()).items()))
        or "none"
    )
