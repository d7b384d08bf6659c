"""`cashout-ops replay`: failure and dead-letter messages go back as cancels, each deleted only
once it was re-sent; what cannot be read stays, visible again; a dry run changes nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import boto3

from ops.batches import Entry, Refused
from ops.bus import REPLAY_SOURCE, put_batch
from ops.replay import ReplayReport, run_replay
from ops.sqs import send_batch
from tests.ops.conftest import REGION, failure_message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Drain = Callable[[str], list[dict[str, Any]]]


def _put(sqs: SQSClient, queue_url: str, *samples: str) -> None:
    for sample in samples:
        body, attributes = failure_message(sample)
        if attributes:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body, MessageAttributes=attributes)
        else:
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)


def _replay(
    sqs: SQSClient, queue_url: str, send: Any, limit: int | None = None
) -> tuple[ReplayReport, str]:
    out = io.StringIO()
    report = run_replay(
        sqs, queue_url, send, out=out, limit=limit, wait_seconds=0, sleep=lambda _: None
    )
    return report, out.getvalue()


def _cancels(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((json.loads(m["Body"]) for m in messages), key=lambda b: b["cashout_id"])


def test_both_failure_queue_shapes_are_replayed_to_the_cancel_queue_and_deleted(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    # Given a Lambda on-failure record and an EventBridge dead letter in the failure queue
    failures, cancels = make_queue("failures"), make_queue("cancels")
    _put(sqs, failures, "lambda-destination-retries-exhausted", "eventbridge-dead-letter")

    # When they are replayed to the cancel queue
    report, out = _replay(sqs, failures, send_batch(sqs, cancels))

    # Then each is one cancel message, and the failure queue is empty
    assert _cancels(drain(cancels)) == [
        {"cashout_id": 1001, "external_id": "ext-1001"},
        {"cashout_id": 1003, "external_id": "ext-1003"},
    ]
    assert drain(failures) == []
    assert len(report.replayed) == 2
    assert report.left == 0
    assert "summary: 2 replayed, 0 skipped, 0 failed to re-send, 0 re-sent but not deleted" in out


def test_unreadable_messages_are_skipped_reported_and_left_visible_in_the_queue(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    dead_letters, cancels = make_queue("dead-letters"), make_queue("cancels")
    _put(sqs, dead_letters, "cancel-dead-letter", "cancel-dead-letter-invalid")

    report, out = _replay(sqs, dead_letters, send_batch(sqs, cancels))

    assert _cancels(drain(cancels)) == [{"cashout_id": 1004, "external_id": "ext-1004"}]
    # Released at the end of the run: visible again at once, for a person to look at
    (left,) = drain(dead_letters)
    assert json.loads(left["Body"]) == {"cashout_id": "01004", "external_id": ""}
    assert list(report.skipped.values()) == [
        "cancel message: invalid request: cashout_id must be a positive integer below 2^63,"
        " as a JSON integer or a string of decimal digits; external_id must not be empty."
    ]
    assert report.left == 1
    assert f"skip  {left['MessageId']}: cancel message: invalid request" in out


def test_dry_run_sends_nothing_deletes_nothing_and_says_what_it_would_do(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    failures, cancels = make_queue("failures"), make_queue("cancels")
    _put(sqs, failures, "lambda-destination-event-age-exceeded", "eventbridge-dead-letter")

    report, out = _replay(sqs, failures, None)

    assert drain(cancels) == []
    assert len(drain(failures)) == 2  # both still there, and visible
    assert len(report.would_replay) == 2
    assert "cashout 1002 (ext-1002) from a Lambda on-failure record (EventAgeExceeded)" in out
    assert "summary (dry run): 2 would be replayed, 0 skipped; nothing sent or deleted" in out


def test_replay_to_the_bus_puts_cancel_requested_events_the_rule_matches(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    # Given a bus whose rule (the template's pattern) forwards to a queue we can read
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name="payouts")
    observed = make_queue("observed")
    observed_arn = sqs.get_queue_attributes(QueueUrl=observed, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="cancel-requested",
        EventBusName="payouts",
        EventPattern=json.dumps({"detail-type": ["Cashout Cancel Requested"]}),
    )
    events.put_targets(
        Rule="cancel-requested",
        EventBusName="payouts",
        Targets=[{"Id": "observer", "Arn": observed_arn["Attributes"]["QueueArn"]}],
    )
    failures = make_queue("failures")
    _put(sqs, failures, "lambda-destination-retries-exhausted")

    # When the failure is replayed to the bus
    report, _ = _replay(sqs, failures, put_batch(events, "payouts"))

    # Then the rule saw one cancel request, from the replay, and the failure is gone
    (message,) = drain(observed)
    event = json.loads(message["Body"])
    assert event["detail-type"] == "Cashout Cancel Requested"
    assert event["source"] == REPLAY_SOURCE
    assert event["detail"] == {"cashout_id": 1001, "external_id": "ext-1001"}
    assert drain(failures) == []
    assert report.left == 0


def test_only_what_was_re_sent_is_deleted(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    # Given a destination that refuses cashout 1003 for good
    failures, cancels = make_queue("failures"), make_queue("cancels")
    _put(sqs, failures, "lambda-destination-retries-exhausted", "eventbridge-dead-letter")
    real = send_batch(sqs, cancels)

    def refusing_1003(entries: Sequence[Entry]) -> tuple[list[str], dict[str, Refused]]:
        refused = {e.id: Refused("AccessDenied", False) for e in entries if "1003" in e.body}
        taken, _ = real([e for e in entries if e.id not in refused])
        return taken, refused

    # When both are replayed
    report, out = _replay(sqs, failures, refusing_1003)

    # Then the refused one is still in the failure queue, and only the other was deleted
    (left,) = drain(failures)
    assert json.loads(left["Body"])["detail"]["cashout_id"] == 1003
    assert _cancels(drain(cancels)) == [{"cashout_id": 1001, "external_id": "ext-1001"}]
    assert report.not_sent == {left["MessageId"]: "AccessDenied"}
    assert "summary: 1 replayed, 0 skipped, 1 failed to re-send" in out


def test_limit_replays_at_most_that_many_and_leaves_the_rest_visible(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    dead_letters, cancels = make_queue("dead-letters"), make_queue("cancels")
    for cashout_id in range(7001, 7006):
        sqs.send_message(
            QueueUrl=dead_letters,
            MessageBody=json.dumps({"cashout_id": cashout_id, "external_id": f"ext-{cashout_id}"}),
        )

    report, _ = _replay(sqs, dead_letters, send_batch(sqs, cancels), limit=2)

    assert len(report.replayed) == 2
    assert len(drain(cancels)) == 2
    assert len(drain(dead_letters)) == 3


def test_a_dry_run_names_the_merchant_account_a_failed_request_belongs_to(
    sqs: SQSClient, make_queue: Callable[[str], str]
) -> None:
    # Given a cancel message of a named account waiting in the dead-letter queue
    dead_letters = make_queue("dead-letters")
    body = {"cashout_id": 3001, "external_id": "ext-3001", "merchant": "acme-mx"}
    sqs.send_message(QueueUrl=dead_letters, MessageBody=json.dumps(body))

    # When the operator looks before replaying
    report, out = _replay(sqs, dead_letters, None)

    # Then the line says whose cancel it is, so that nothing is replayed to the wrong account
    assert len(report.would_replay) == 1
    assert "cashout 3001 (ext-3001) of merchant account acme-mx from a cancel message" in out
