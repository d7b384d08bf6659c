"""What a bulk run through the queue must leave behind (docs/contract.md sections 5, 9, 10 and
11), judged from outside the function: what D24 holds for each account, the results on the bus
(the ledger's view), the requests D24 received, the dead-letter queue and the queue. The oracle
for each cashout is its D24 state before the run, in the account its line names: a cancellable
one ends CANCELLED once, then ALREADY_CANCELLED for every further message naming it; a cancelled
one ALREADY_CANCELLED; one in another state NOT_CANCELLABLE; an unknown one NOT_FOUND; a line
naming an account with no secret UNKNOWN_MERCHANT, with nothing sent to D24."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from local.bulk_demo import INVALID_ROWS, UNKNOWN_ACCOUNT, BulkRun, invalid_body
from local.d24_sandbox import CANCELLABLE, CANCELLED
from local.function import SECOND_ACCOUNT

StatusOf = Callable[[int, str | None], int | None]


def expected_outcomes(state: int | None, times: int, account: str | None = None) -> Counter[str]:
    """The results `times` messages naming one cashout end with, from its state before the run
    in `account`."""
    if account == UNKNOWN_ACCOUNT:
        return Counter({"UNKNOWN_MERCHANT": times})
    if state is None:
        return Counter({"NOT_FOUND": times})
    if state in CANCELLABLE:
        return Counter({"CANCELLED": 1, "ALREADY_CANCELLED": times - 1}) + Counter()
    if state == CANCELLED:
        return Counter({"ALREADY_CANCELLED": times})
    return Counter({"NOT_CANCELLABLE": times})


def assert_the_run_kept_the_contract(run: BulkRun, status_of: StatusOf) -> None:
    """Every assertion about a bulk run, each naming what it found when it fails."""
    plan = run.plan
    # The file mixed accounts: the default one, the second one, and one with no secret
    assert set(plan.accounts.values()) == {None, SECOND_ACCOUNT, UNKNOWN_ACCOUNT}
    # The operators' tool refused the file with invalid lines, then sent the valid ones
    assert run.exit_codes == (1, 0, 0)
    # The event source worked the queue to the end, in time
    assert not run.worked.timed_out
    assert run.queue_left == 0
    # Every published result names its line's account and is true of what D24 holds for it now
    for result in run.results:
        cashout_id, outcome = int(result["cashout_id"]), result["outcome"]
        account = plan.accounts[cashout_id]
        assert result.get("merchant") == account, result
        if account == UNKNOWN_ACCOUNT:
            assert outcome == "UNKNOWN_MERCHANT", result
            continue
        now = status_of(cashout_id, account)
        if outcome in ("CANCELLED", "ALREADY_CANCELLED"):
            assert now == result["cashout_status"] == CANCELLED, result
        elif outcome == "NOT_CANCELLABLE":
            assert now not in (None, CANCELLED), result
            assert result["cashout_status"] == now, result
        else:
            assert (outcome, now) == ("NOT_FOUND", None), result
    # Exactly one final result per valid message, from the sqs caller, under its message id
    request_ids = Counter(result["request_id"] for result in run.results)
    assert [rid for rid, n in request_ids.items() if n > 1] == []
    assert len(run.results) == plan.valid_messages
    assert {result["caller"] for result in run.results} == {"sqs"}
    # Each cashout's results are the ones its state before the run calls for: a repeated line
    # was sent once, a line sent again twice (a cancellable one cancelled once)
    got: dict[int, Counter[str]] = {}
    for result in run.results:
        got.setdefault(result["cashout_id"], Counter())[result["outcome"]] += 1
    wrong = {
        cashout_id: (got.get(cashout_id), want)
        for cashout_id, account in plan.accounts.items()
        if got.get(cashout_id)
        != (
            want := expected_outcomes(
                plan.states.get(cashout_id), 2 if cashout_id in plan.sent_again else 1, account
            )
        )
    }
    assert wrong == {}
    # D24 heard about each cashout only from the account its line names, signed with that
    # account's key, and never about a line naming an account with no secret
    assert run.asked
    assert [(a, c) for a, c in run.asked if plan.accounts.get(c, "?") != a] == []
    # Every invalid line is in the dead-letter queue, and nothing else is
    assert sorted(run.dead_letters) == sorted(invalid_body(row) for row in INVALID_ROWS)
    # D24 never saw more requests at once than MaximumConcurrency x BULK_CONCURRENCY
    assert 0 < run.d24_peak <= run.in_flight_bound
    # Every valid message was done and deleted
    assert run.worked.deleted == plan.valid_messages
