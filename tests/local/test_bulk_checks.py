"""The bulk run's checks (local/bulk_demo/checks.py): each one passes on what a correct run leaves
behind, and fails, naming the offender, on each way a run could go wrong."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.bulk_demo import checks
from local.bulk_demo.plan import Line, Plan, make_plan, write_csv
from local.d24_sandbox import CANCELLABLE, CANCELLED
from ops.csv_file import check_file

LIMIT = 16
PLAN = make_plan(40)


def truthful(plan: Plan) -> checks.Observed:
    """What a correct run leaves: one result per message, D24 as the results say."""
    now: dict[int, int] = {}
    results: list[dict[str, Any]] = []
    sends = [*plan.lines, *plan.sent_again]
    for n, line in enumerate(sends):
        results.append(_result(line, now, f"message-{n}"))
    delivered = {result["request_id"]: "{}" for result in results}
    delivered |= {f"invalid-{n}": checks.invalid_body(row) for n, row in enumerate(plan.invalid)}
    return checks.Observed(
        results=results,
        status_of=now.get,
        delivered=delivered,
        dead_letters=[checks.invalid_body(row) for row in plan.invalid],
        queue_left=0,
        timed_out=False,
        d24_peak=8,
        tool_exit_codes=(1, 0, 0),
    )


def _result(line: Line, now: dict[int, int], message_id: str) -> dict[str, Any]:
    """The result D24's sandbox would lead to for one message, updating its state in `now`."""
    result: dict[str, Any] = {"cashout_id": line.cashout_id, "external_id": line.external_id}
    result |= {"caller": "sqs", "request_id": message_id}
    status = now.get(line.cashout_id, line.status)
    if status is None:
        return result | {"statusCode": 404, "outcome": "NOT_FOUND"}
    if status in CANCELLABLE:
        now[line.cashout_id] = CANCELLED
        return result | {"statusCode": 200, "outcome": "CANCELLED", "cashout_status": CANCELLED}
    now[line.cashout_id] = status
    outcome = "ALREADY_CANCELLED" if status == CANCELLED else "NOT_CANCELLABLE"
    code = 200 if status == CANCELLED else 409
    return result | {"statusCode": code, "outcome": outcome, "cashout_status": status}


def failed(seen: checks.Observed) -> dict[str, str]:
    """The checks that failed, by name, with their detail."""
    return {
        check.name: check.detail
        for check in checks.bulk_checks(PLAN, seen, LIMIT)
        if not check.passed
    }


def with_results(
    seen: checks.Observed, change: Callable[[list[dict[str, Any]]], object]
) -> checks.Observed:
    results = [dict(result) for result in seen.results]
    change(results)
    return dataclasses.replace(seen, results=results)


def first(results: list[dict[str, Any]], outcome: str) -> dict[str, Any]:
    return next(result for result in results if result["outcome"] == outcome)


def test_what_a_correct_run_leaves_passes_every_check() -> None:
    assert failed(truthful(PLAN)) == {}


def test_a_cancelled_result_for_a_cashout_d24_still_holds_pending_fails() -> None:
    # Given a run whose function said CANCELLED, but D24 still holds the cashout Pending
    truth = truthful(PLAN)
    cancelled = next(r for r in truth.results if r["outcome"] == "CANCELLED")
    pending = {cancelled["cashout_id"]: 0}
    seen = dataclasses.replace(truth, status_of=lambda i: pending.get(i, truth.status_of(i)))

    # Then the agreement check fails and names the cashout
    assert f"CANCELLED for cashout {cancelled['cashout_id']}" in str(failed(seen))


@pytest.mark.parametrize(
    ("outcome", "change"),
    [
        pytest.param("NOT_CANCELLABLE", {"cashout_status": 4}, id="not D24's status"),
        pytest.param("NOT_FOUND", {"cashout_id": PLAN.lines[0].cashout_id}, id="D24 has it"),
        pytest.param("CANCELLED", {"outcome": "UPSTREAM_UNAVAILABLE"}, id="not final"),
    ],
)
def test_a_published_result_that_is_not_true_of_d24_fails(
    outcome: str, change: dict[str, Any]
) -> None:
    seen = with_results(truthful(PLAN), lambda results: first(results, outcome).update(change))

    assert "every cashout's D24 state agrees with its published result" in failed(seen)


def test_a_message_published_twice_fails() -> None:
    seen = with_results(truthful(PLAN), lambda results: results.append(dict(results[0])))

    assert "message message-0 has 2 results" in str(failed(seen))


def test_a_message_without_a_published_result_fails() -> None:
    seen = with_results(truthful(PLAN), lambda results: results.pop(3))

    problems = failed(seen)
    assert "cashout 50004: 0 results for 1 message(s)" in str(problems)
    assert "each result is the one the cashout's state before the run calls for" in problems


def test_a_cashout_sent_twice_and_cancelled_twice_fails() -> None:
    # Given the second message of a re-sent pending cashout also published as CANCELLED
    again = PLAN.sent_again[0]

    def cancelled_twice(results: list[dict[str, Any]]) -> None:
        for result in results:
            if result["cashout_id"] == again.cashout_id:
                result["outcome"] = "CANCELLED"

    seen = with_results(truthful(PLAN), cancelled_twice)

    # Then the outcome check names it, with what it expected
    detail = failed(seen)["each result is the one the cashout's state before the run calls for"]
    expected = "2 CANCELLED, expected 1 ALREADY_CANCELLED, 1 CANCELLED"
    assert f"cashout {again.cashout_id}: {expected}" in detail


def test_an_invalid_line_missing_from_the_dead_letter_queue_or_a_valid_one_in_it_fails() -> None:
    seen = truthful(PLAN)
    seen = dataclasses.replace(seen, dead_letters=[*seen.dead_letters[1:], '{"cashout_id": 1}'])

    detail = failed(seen)["every invalid line ended in the dead-letter queue, and nothing else did"]
    assert "missing" in detail
    assert 'unexpected {"cashout_id": 1}' in detail


def test_more_requests_at_d24_than_the_queue_may_send_fails() -> None:
    seen = dataclasses.replace(truthful(PLAN), d24_peak=LIMIT + 1)

    assert list(failed(seen)) == [
        "D24 never saw more than MaximumConcurrency x BULK_CONCURRENCY requests at once"
    ]


def test_a_queue_left_with_messages_or_a_run_out_of_time_fails() -> None:
    seen = dataclasses.replace(truthful(PLAN), queue_left=2, timed_out=True)

    assert failed(seen) == {
        "the queue is empty": "2 problem(s): 2 message(s) left in CancelQueue; the event source"
        " ran out of time"
    }


def test_a_tool_that_sent_the_file_with_invalid_lines_fails() -> None:
    seen = dataclasses.replace(truthful(PLAN), tool_exit_codes=(0, 0, 0))

    assert list(failed(seen)) == [
        "ops send refused the file with invalid lines, then sent every valid line"
    ]


# The plan


def test_the_plan_has_every_state_the_contract_names_and_unknown_ids() -> None:
    statuses = {line.status for line in PLAN.lines}

    assert statuses == {0, 1, 2, 3, 4, 5, None}
    assert len({line.cashout_id for line in PLAN.lines}) == 40
    assert [line.status for line in PLAN.sent_again] == [0, 0, 0, 5, 1]
    assert PLAN.valid_messages == 45


def test_the_operators_tool_refuses_the_file_and_skips_its_repeats(tmp_path: Path) -> None:
    # Given the operator's file, and the same file without its invalid lines
    whole = check_file(write_csv(tmp_path / "whole.csv", PLAN.file_rows()))
    valid = check_file(write_csv(tmp_path / "valid.csv", PLAN.valid_rows()))

    # Then ops send's own check refuses the first for each invalid line, and of the second
    # would send every cashout once
    assert whole.refused
    assert len(whole.bad) == len(PLAN.invalid)
    assert not valid.refused
    assert len(valid.lines) == len(PLAN.lines)
    assert len(valid.repeats) == len(PLAN.repeated)


def test_a_plan_smaller_than_the_state_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20 cashouts"):
        make_plan(19)
