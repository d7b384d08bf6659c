"""`make rehearse` (local/bulk_demo.py): D24 down fills both failure queues, the operators' own
`cashout-ops replay` puts what they hold back in the cancel queue, and every cancel then ends
cancelled at D24, in its own account."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from local.bulk_demo import REHEARSED_EVENTS, REHEARSED_LINES, rehearse
from local.d24_sandbox import CANCELLED
from local.function import local_function
from local.lambda_context import ALIAS_ARN

LAMBDA_RECORD_KEYS = {
    "version",
    "timestamp",
    "requestContext",
    "requestPayload",
    "responseContext",
    "responsePayload",
}


@pytest.mark.slow
def test_a_replay_once_d24_is_back_cancels_everything_both_failure_queues_held(
    tmp_path: Path,
) -> None:
    # Given the local function, and D24 down while a file of cancels goes through the queue and
    # EventBridge cancels are invoked asynchronously
    out = io.StringIO()
    with local_function(log_level="CRITICAL") as function:
        # When D24 comes back and the operator replays both failure queues with cashout-ops
        run = rehearse(function, tmp_path, out)

    # Then while D24 was down every message reached the dead-letter queue, and every event was
    # invoked three times, then left Lambda's on-failure record in the failure queue
    assert run.dead_lettered == len(REHEARSED_LINES)
    assert run.invocations == [3] * len(REHEARSED_EVENTS)
    records = {r["requestPayload"]["detail"]["cashout_id"]: r for r in run.failure_records}
    assert sorted(records) == sorted(cashout_id for cashout_id, _ in REHEARSED_EVENTS)
    for cashout_id, account in REHEARSED_EVENTS:
        record = records[cashout_id]
        assert set(record) == LAMBDA_RECORD_KEYS
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestContext"]["functionArn"] == ALIAS_ARN
        assert record["requestPayload"]["detail-type"] == "Cashout Cancel Requested"
        assert record["requestPayload"]["detail"].get("merchant") == account
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["responsePayload"]["errorType"] == "RetryableFailure"
        assert record["responsePayload"]["requestId"] == record["requestContext"]["requestId"]
    # And the tool sent the file, listed each queue's messages, then replayed every one of them
    statuses = [(args.split()[0], status) for args, status, _ in run.commands]
    assert statuses == [("send", 0)] + [("replay", 0)] * 4
    printed = [output for _, _, output in run.commands[1:]]
    listed = [sum(line.startswith("would ") for line in text.splitlines()) for text in printed[:2]]
    assert listed == [len(REHEARSED_LINES), len(REHEARSED_EVENTS)]
    assert f"summary: {len(REHEARSED_LINES)} replayed, 0 skipped" in printed[2]
    assert f"summary: {len(REHEARSED_EVENTS)} replayed, 0 skipped" in printed[3]
    # And once worked, each cancel has one result in its own account, CANCELLED (2002 was
    # cancelled before the outage: ALREADY_CANCELLED), D24 holds each cancelled, no queue holds
    # anything
    got = sorted((str(r.get("merchant")), r["cashout_id"], r["outcome"]) for r in run.results)
    assert got == sorted(
        (str(account), cashout_id, "ALREADY_CANCELLED" if cashout_id == 2002 else "CANCELLED")
        for cashout_id, account in REHEARSED_LINES + REHEARSED_EVENTS
    )
    assert run.d24 == {
        (account, cashout_id): CANCELLED
        for cashout_id, account in REHEARSED_LINES + REHEARSED_EVENTS
    }
    assert run.left == {"CancelQueue": 0, "CancelDeadLetterQueue": 0, "FailureQueue": 0}
    assert "D24 holds 6 of the 6 cashouts cancelled" in out.getvalue()
