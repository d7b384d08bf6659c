"""The demo's bulk run (local/bulk_demo.py) through the real handler in this process: an
operator's file through `ops send`, the local SQS event source, D24 and the results bus."""

from __future__ import annotations

import pytest

from local.bulk_demo import STATE_MIX, UNKNOWN_ACCOUNT, make_plan, run_bulk
from local.function import SECOND_ACCOUNT, local_function
from tests.local.bulk_contract import assert_the_run_kept_the_contract


@pytest.mark.slow
def test_a_bulk_cancel_through_the_queue_keeps_the_contract() -> None:
    # Given the local function, and 40 sandbox cashouts in every state in two accounts, some sent
    # twice, and two lines naming an account with no secret
    with local_function() as function:
        # When an operator's file of cancels goes through the queue
        run = run_bulk(function, cashouts=40)

        # Then every line's outcome agrees with what D24 holds for its account, each valid
        # message has one result, UNKNOWN_MERCHANT lines sent nothing, the invalid lines wait in
        # the dead-letter queue, and D24's load stayed within the bound
        assert_the_run_kept_the_contract(run, function.sandbox.status_of)
    assert run.environments == 1  # in-process: this process is the one execution environment


def test_the_plan_has_every_state_the_contract_names_and_unknown_ids() -> None:
    plan = make_plan(40)

    assert set(plan.states.values()) == {0, 1, 2, 3, 4, 5, None}
    assert len(plan.states) == 40
    assert [plan.states[cashout_id] for cashout_id in plan.sent_again] == [0, 0, 0, 5, 1]
    assert len(plan.repeated) == 3
    assert plan.valid_messages == 47


def test_the_plan_gives_the_second_account_cashouts_in_every_state() -> None:
    plan = make_plan(40)

    second = {plan.states[i] for i, account in plan.accounts.items() if account == SECOND_ACCOUNT}
    assert second == {0, 1, 2, 3, 4, 5, None}
    assert [plan.accounts[i] for i in plan.unknown_account] == [UNKNOWN_ACCOUNT] * 2
    assert not set(plan.unknown_account) & set(plan.states)
    assert [row[2] for row in plan.rows(plan.unknown_account)] == [UNKNOWN_ACCOUNT] * 2


def test_a_plan_smaller_than_the_state_mix_is_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {len(STATE_MIX)} cashouts"):
        make_plan(len(STATE_MIX) - 1)
