"""Bulk cancels through SQS (docs/contract.md section 9) and result events for the ledger (section
10), through the real handler, against the sandbox over sockets and EventBridge/SQS from moto."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cashout_cancel.cancel.outcomes import CancelResult, Outcome
from cashout_cancel.d24.answers import CashoutStatus
from cashout_cancel.result_events import ResultEvent
from local.d24_sandbox import CANCELLED, COMPLETED, PENDING, D24Sandbox, Fault
from local.events import api_rest_event, direct_event, eventbridge_event, sqs_event
from tests.conftest import (
    EVENTBRIDGE_REQUEST_LIMIT,
    Invoke,
    LambdaContext,
    ResultsTap,
    SecretReads,
)
from tests.integration.via import answer_of

# Every string passed on from D24 is cut to this many characters (docs/contract.md section 4).
MAX_PASSED_ON = 300


def invoke_batch(event: dict[str, Any], remaining_ms: float = 10_000) -> list[str]:
    """Run an SQS batch through the handler; the message ids it hands back for redelivery."""
    from cashout_cancel.handler import lambda_handler

    response = lambda_handler(event, LambdaContext(remaining_ms=remaining_ms))
    assert set(response) == {"batchItemFailures"}
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def request(cashout_id: int | str, external_id: str | None = None) -> dict[str, Any]:
    return {"cashout_id": cashout_id, "external_id": external_id or f"ext-{cashout_id}"}


def by_request_id(results: ResultsTap) -> dict[str, dict[str, Any]]:
    details = results.details()
    keyed = {detail["request_id"]: detail for detail in details}
    assert len(keyed) == len(details), "one event per result, never two"
    return keyed


def assert_published_xor_failed(event: dict[str, Any], failed: list[str], published: Any) -> None:
    """Section 10: a published message is done, never also a failure; a failure has no result."""
    ids = {record["messageId"] for record in event["Records"]}
    assert set(published) <= ids
    assert set(failed) <= ids
    assert not set(published) & set(failed)
    assert set(published) | set(failed) == ids


# A valid request padded past the 8 KiB every caller's body is held to (10,061 characters).
OVERSIZED_BODY = json.dumps({**request(1001), "note": "x" * 10_000})


@pytest.fixture
def batch_env(function_env: D24Sandbox) -> D24Sandbox:
    return function_env


# Section 9: the batch


def test_a_mixed_batch_is_done_except_what_must_come_back(
    batch_env: D24Sandbox, results: ResultsTap
) -> None:
    # Given a batch: two cancels, one already cancelled, one not cancellable, one unknown,
    # and one message that is not valid
    event = sqs_event(request(1001), request(1002), request(2002), request(2001),
                      request(987654), request(0, "ext-0"))  # fmt: skip
    ids = [record["messageId"] for record in event["Records"]]

    # When the event source hands it to the function
    failed = invoke_batch(event)

    # Then only the invalid message comes back; every other result is published
    assert failed == [ids[5]]
    published = by_request_id(results)
    assert {mid: published[mid]["outcome"] for mid in ids[:5]} == {
        ids[0]: "CANCELLED",
        ids[1]: "CANCELLED",
        ids[2]: "ALREADY_CANCELLED",
        ids[3]: "NOT_CANCELLABLE",
        ids[4]: "NOT_FOUND",
    }
    assert_published_xor_failed(event, failed, published)
    assert (batch_env.status_of(1001), batch_env.status_of(1002)) == (CANCELLED, CANCELLED)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '"a string"',
        json.dumps({"external_id": "ext-1001"}),
        json.dumps({"cashout_id": 1001}),
        json.dumps({"cashout_id": True, "external_id": "ext-1001"}),
        json.dumps({"cashout_id": 1.5, "external_id": "ext-1001"}),
        json.dumps({"cashout_id": "007", "external_id": "ext-1001"}),
        json.dumps({"cashout_id": 1001, "external_id": "x" * 101}),
        '{"cashout_id": ' + "9" * 4400 + ', "external_id": "ext-1001"}',
        OVERSIZED_BODY,
    ],
    ids=[
        "not-json",
        "array",
        "string",
        "no-id",
        "no-external-id",
        "bool-id",
        "float-id",
        "leading-zero",
        "long-external-id",
        "4400-digit-id",
        "over-8-KiB",
    ],
)
def test_an_invalid_message_is_handed_back_unpublished_and_nothing_is_sent(
    body: str, batch_env: D24Sandbox, results: ResultsTap
) -> None:
    # Given a message whose body is not the direct-invoke object
    event = sqs_event(body)

    # When it is delivered
    failed = invoke_batch(event)

    # Then it comes back (to end in the dead-letter queue), nothing is sent, nothing published
    assert failed == [event["Records"][0]["messageId"]]
    assert batch_env.received() == []
    assert results.events() == []


def test_a_message_d24_cannot_answer_is_handed_back_unpublished(
    batch_env: D24Sandbox, results: ResultsTap
) -> None:
    # Given D24 answering 503 to every request about one cashout's cancel and status
    batch_env.inject(Fault.status(503), endpoint="any", times=6)
    event = sqs_event(request(1001))

    # When the batch runs
    failed = invoke_batch(event)

    # Then the message comes back for another try, with no result on the bus
    assert failed == [event["Records"][0]["messageId"]]
    assert results.events() == []


def test_the_same_cashout_twice_in_a_batch_is_two_cancels(
    batch_env: D24Sandbox, results: ResultsTap
) -> None:
    event = sqs_event(request(1001), request(1001))
    assert invoke_batch(event) == []
    outcomes = sorted(detail["outcome"] for detail in results.details())
    assert outcomes == ["ALREADY_CANCELLED", "CANCELLED"]


def test_a_message_delivered_again_is_harmless(batch_env: D24Sandbox, results: ResultsTap) -> None:
    event = sqs_event(request(1001))
    assert invoke_batch(event) == []
    assert invoke_batch(event) == []  # the same message, redelivered
    assert [d["outcome"] for d in results.details()] == ["CANCELLED", "ALREADY_CANCELLED"]
    assert {d["cashout_status"] for d in results.details()} == {CANCELLED}


def test_no_more_than_bulk_concurrency_cancels_are_in_flight_at_d24(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given D24 taking 50 ms per request, and BULK_CONCURRENCY of 4
    monkeypatch.setenv("BULK_CONCURRENCY", "4")
    batch_env.latency = 0.05
    for cashout_id in range(5001, 5021):
        batch_env.add_cashout(cashout_id, f"ext-{cashout_id}")

    # When a batch of 20 cancels runs
    started = time.monotonic()
    failed = invoke_batch(sqs_event(*(request(i) for i in range(5001, 5021))))
    took = time.monotonic() - started

    # Then D24 saw at most 4 at once, and 4 at once were used (20 cancels in about 5 rounds)
    assert failed == []
    assert batch_env.in_flight_peak == 4
    assert took < 20 * 0.05  # faster than one at a time
    assert len(results.details()) == 20


@pytest.mark.slow
def test_a_batch_too_long_for_the_deadline_starts_only_what_can_finish(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given D24 taking 0.4 s per request, two cancels at a time, and 1.5 s left in the invocation
    monkeypatch.setenv("BULK_CONCURRENCY", "2")
    batch_env.latency = 0.4
    event = sqs_event(*(request(cashout_id) for cashout_id in (1001, 1002, 1003, 1004, 1005)))

    # When the batch runs
    started = time.monotonic()
    failed = invoke_batch(event, remaining_ms=1500)
    took = time.monotonic() - started

    # Then it answers in time; what did not start comes back, untouched at D24
    assert took < 1.5
    assert failed
    published = by_request_id(results)
    assert_published_xor_failed(event, failed, published)
    sent = {request.json()["cashout_id"] for request in batch_env.received("cancel")}
    for record in event["Records"]:
        cashout_id = json.loads(record["body"])["cashout_id"]
        if record["messageId"] in failed and cashout_id not in sent:
            assert batch_env.status_of(cashout_id) == PENDING


def test_a_429_holds_back_every_cancel_of_the_invocation_until_its_wait_is_over(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given two cancels at a time, and D24 throttling the merchant on the first cancel it gets
    # (Retry-After: 1) while it answers the other one in flight 0.2 s later
    monkeypatch.setenv("BULK_CONCURRENCY", "2")
    batch_env.inject(Fault.status(429, headers={"Retry-After": "1"}))
    batch_env.inject(Fault.delay(0.2))
    for cashout_id in range(5001, 5009):
        batch_env.add_cashout(cashout_id, f"ext-{cashout_id}")
    event = sqs_event(*(request(i) for i in range(5001, 5009)))

    # When the batch runs
    failed = invoke_batch(event)

    # Then, beyond the two in flight when D24 said to wait, no request reached D24 before the
    # wait was over; and every cancel went through
    first, second, *later = batch_env.received()
    told_to_wait = min(first.at, second.at)
    early = [round(r.at - told_to_wait, 3) for r in later if r.at < told_to_wait + 1.0 - 0.02]
    assert early == [], "requests sent while D24 had asked the merchant to wait"
    assert failed == []
    assert {d["outcome"] for d in results.details()} == {"CANCELLED"}
    assert len(results.details()) == 8


def test_a_429_whose_wait_outlasts_the_invocation_starts_no_other_cancel(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given two cancels at a time, and D24 throttling the merchant for an hour on the first
    # cancel it gets, while it answers the other one in flight 0.2 s later
    monkeypatch.setenv("BULK_CONCURRENCY", "2")
    batch_env.inject(Fault.status(429, headers={"Retry-After": "3600"}))
    batch_env.inject(Fault.delay(0.2))
    event = sqs_event(*(request(i) for i in (1001, 1002, 1003, 1004, 1005)))

    # When the batch runs with 3 s left
    started = time.monotonic()
    failed = invoke_batch(event, remaining_ms=3000)

    # Then it answers in time, D24 saw only the two requests in flight, and every cancel not
    # confirmed comes back for a later invocation
    assert time.monotonic() - started < 3.0
    assert len(batch_env.received()) == 2
    published = by_request_id(results)
    assert len(published) == 1
    assert_published_xor_failed(event, failed, published)


def test_a_batch_never_publishes_an_answer_left_on_a_connection_by_an_interim_one(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given one cancel at a time, D24 refusing the already cancelled 2002, and its status
    # endpoint sending a 103 Early Hints before the real status 0.2 s later
    monkeypatch.setenv("BULK_CONCURRENCY", "1")
    batch_env.inject(Fault.interim(103, seconds=0.2), endpoint="status")
    event = sqs_event(request(2002), request(2001))

    # When the batch runs: 2002, then the Completed (paid out) 2001
    failed = invoke_batch(event)

    # Then the ledger learns the truth of each: already cancelled, and not cancellable, paid out
    assert failed == []
    told = {d["cashout_id"]: (d["outcome"], d["cashout_status"]) for d in results.details()}
    assert told == {2002: ("ALREADY_CANCELLED", CANCELLED), 2001: ("NOT_CANCELLABLE", COMPLETED)}
    assert batch_env.status_of(2001) == COMPLETED


# Section 10: result events


def test_ten_confirmed_cancels_with_huge_descriptions_are_published_bounded(
    batch_env: D24Sandbox, put_events_sizes: list[int], results: ResultsTap
) -> None:
    # Given D24 confirming ten cancels, each with a 48 KB status description, and a bus that
    # refuses requests over 256 KiB as EventBridge does
    batch_env.inject(Fault.long_description(48_000), times=10)
    event = sqs_event(*(request(i) for i in range(5001, 5011)))
    for cashout_id in range(5001, 5011):
        batch_env.add_cashout(cashout_id, f"ext-{cashout_id}")

    # When the batch runs
    failed = invoke_batch(event)

    # Then every result is on the bus, its description cut to 300 characters, and no request
    # to the bus was over the limit
    assert failed == []
    details = results.details()
    assert sorted(d["cashout_id"] for d in details) == list(range(5001, 5011))
    assert {d["outcome"] for d in details} == {"CANCELLED"}
    assert {len(d["cashout_status_description"]) for d in details} == {MAX_PASSED_ON}
    assert max(put_events_sizes) <= EVENTBRIDGE_REQUEST_LIMIT


def test_every_string_passed_on_from_d24_is_cut_to_300_characters(
    batch_env: D24Sandbox, invoke: Invoke
) -> None:
    # Given D24 refusing the cancel of a Rejected cashout with a long message and string code,
    # and its status answer carrying a long description, rejection code and reason
    long = "R" * 20_000
    batch_env.add_cashout(2003, "ext-2003", 3, rejection_code=long, rejection_reason=long)
    batch_env.inject(Fault.status(412, {"code": long, "message": long}))
    batch_env.inject(Fault.long_description(20_000), endpoint="status")

    # When a caller asks to cancel it
    answer = answer_of(invoke(direct_event(2003, "ext-2003")))

    # Then it is not cancellable, and every string D24 sent is cut to 300 characters
    assert answer.body["outcome"] == "NOT_CANCELLABLE"
    passed_on = [answer.body["cashout_status_description"], answer.body["rejection_code"],
                 answer.body["rejection_reason"], answer.body["upstream"]["message"],
                 answer.body["upstream"]["code"]]  # fmt: skip
    assert [len(text) for text in passed_on] == [MAX_PASSED_ON] * 5


def not_cancellable(cashout_id: int, description: str) -> ResultEvent:
    """A final SQS result whose status description is `description`."""
    status = CashoutStatus(COMPLETED, description)
    result = CancelResult(
        Outcome.NOT_CANCELLABLE, cashout_id=cashout_id, external_id=f"ext-{cashout_id}",
        status=status, message="Refused.",
    )  # fmt: skip
    return ResultEvent(result, "sqs", f"message-{cashout_id}")


def test_results_too_large_for_one_put_events_are_put_in_several_none_dropped(
    batch_env: D24Sandbox, put_events_sizes: list[int], results: ResultsTap
) -> None:
    from cashout_cancel import container
    from cashout_cancel.deadline import Deadline

    # Given ten final results of 60 KB each: 600 KB in all (the publisher does not count on D24's
    # strings having been cut), and a bus that refuses requests over 256 KiB
    events = [not_cancellable(cashout_id, "C" * 60_000) for cashout_id in range(5001, 5011)]

    # When they are published
    accepted = container.current().publisher.publish(events, Deadline(10.0))

    # Then the bus accepted every one, whole, in requests within the limit
    assert accepted == [True] * 10
    assert len(put_events_sizes) >= 3
    assert max(put_events_sizes) <= EVENTBRIDGE_REQUEST_LIMIT
    published = by_request_id(results)
    assert sorted(published) == sorted(event.request_id for event in events)
    assert {len(d["cashout_status_description"]) for d in published.values()} == {60_000}


def test_a_result_too_large_to_publish_alone_is_published_shortened(
    batch_env: D24Sandbox, put_events_sizes: list[int], results: ResultsTap
) -> None:
    from cashout_cancel import container
    from cashout_cancel.deadline import Deadline

    # Given a final result of 300 KB beside a small one
    events = [not_cancellable(5001, "C" * 300_000), not_cancellable(5002, "Completed")]

    # When they are published
    accepted = container.current().publisher.publish(events, Deadline(10.0))

    # Then both are on the bus: the large one with its long strings cut, its facts whole
    assert accepted == [True, True]
    assert max(put_events_sizes) <= EVENTBRIDGE_REQUEST_LIMIT
    published = by_request_id(results)
    shortened, small = published["message-5001"], published["message-5002"]
    assert (shortened["outcome"], shortened["cashout_status"]) == ("NOT_CANCELLABLE", COMPLETED)
    assert (shortened["cashout_id"], shortened["external_id"]) == (5001, "ext-5001")
    assert 0 < len(shortened["cashout_status_description"]) < 300_000
    assert small["cashout_status_description"] == "Completed"


def test_an_eventbridge_result_is_published_once_with_caller_and_request_id(
    batch_env: D24Sandbox, results: ResultsTap
) -> None:
    from cashout_cancel.handler import lambda_handler

    answer = lambda_handler(eventbridge_event(request(1001), event_id="ev-1"), LambdaContext())

    [event] = results.events()
    assert (event["source"], event["detail-type"]) == ("cashout-cancel", "Cashout Cancel Completed")
    assert event["detail"] == {**answer, "caller": "eventbridge", "request_id": "ev-1"}
    assert event["detail"]["statusCode"] == 200


def test_an_invalid_requested_event_is_published_so_its_producer_learns(
    batch_env: D24Sandbox, results: ResultsTap
) -> None:
    from cashout_cancel.handler import lambda_handler

    lambda_handler(eventbridge_event({"cashout_id": "x"}, event_id="ev-2"), LambdaContext())
    [detail] = results.details()
    assert (detail["outcome"], detail["request_id"]) == ("INVALID_REQUEST", "ev-2")


def test_an_event_of_another_detail_type_is_refused_unpublished(
    batch_env: D24Sandbox, results: ResultsTap
) -> None:
    from cashout_cancel.handler import lambda_handler

    # A rule that also forwards the function's own results must not make a loop
    forwarded = eventbridge_event(request(1001), detail_type="Cashout Cancel Completed")
    answer = lambda_handler(forwarded, LambdaContext())
    assert answer["outcome"] == "INVALID_REQUEST"
    assert results.events() == []
    assert batch_env.received() == []


def test_http_and_direct_results_are_answered_not_published(
    invoke: Any, results: ResultsTap
) -> None:
    invoke(api_rest_event(1001, {"external_id": "ext-1001"}))
    invoke(request(1002))
    assert results.events() == []


# Publishing that fails is never lost: the caller's own retry takes it


@pytest.fixture
def failing_entries(batch_env: D24Sandbox) -> Iterator[set[int]]:
    """Cashout ids whose result entries the bus will report as failed, in whatever call."""
    from cashout_cancel import container

    failing: set[int] = set()

    def note_cashouts(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["cashout_ids"] = [json.loads(e["Detail"])["cashout_id"] for e in params["Entries"]]

    def fail_some(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        entries = parsed.get("Entries", [])
        for position, cashout_id in enumerate(context.get("cashout_ids", [])):
            if cashout_id in failing and position < len(entries):
                entries[position] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
        parsed["FailedEntryCount"] = sum(1 for e in entries if "ErrorCode" in e)

    client = container.events_client()
    client.meta.events.register("before-parameter-build.events.PutEvents", note_cashouts)
    client.meta.events.register("after-call.events.PutEvents", fail_some)
    yield failing
    client.meta.events.unregister("before-parameter-build.events.PutEvents", note_cashouts)
    client.meta.events.unregister("after-call.events.PutEvents", fail_some)


def test_entries_the_bus_refuses_are_the_messages_handed_back(
    batch_env: D24Sandbox, failing_entries: set[int]
) -> None:
    # Given a bus that refuses the results of two of the cashouts
    failing_entries.update({1002, 1004})
    event = sqs_event(*(request(i) for i in (1001, 1002, 1003, 1004, 1005)))

    # When the batch runs (all five cancel)
    failed = invoke_batch(event)

    # Then exactly their two messages come back; their retry will publish ALREADY_CANCELLED
    refused = {r["messageId"] for r in event["Records"] if json.loads(r["body"])["cashout_id"]
               in (1002, 1004)}  # fmt: skip
    assert set(failed) == refused
    assert all(batch_env.status_of(i) == CANCELLED for i in (1001, 1002, 1003, 1004, 1005))


def test_a_bus_that_refuses_everything_hands_every_done_message_back(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given a results bus that does not exist
    monkeypatch.setenv("RESULTS_EVENT_BUS", "no-such-bus")
    event = sqs_event(request(1001), request(1002))

    # When the batch runs
    failed = invoke_batch(event)

    # Then both come back; the redelivery, with the bus fixed, publishes ALREADY_CANCELLED
    assert sorted(failed) == sorted(record["messageId"] for record in event["Records"])
    monkeypatch.setenv("RESULTS_EVENT_BUS", "cashout-cancel-results")
    assert invoke_batch(event) == []
    assert {d["outcome"] for d in results.details()} == {"ALREADY_CANCELLED"}
    assert {d["cashout_status"] for d in results.details()} == {CANCELLED}


def test_an_eventbridge_result_that_cannot_be_published_raises_for_lambda_to_retry(
    batch_env: D24Sandbox, failing_entries: set[int], results: ResultsTap
) -> None:
    from cashout_cancel.callers.eventbridge import RetryableFailure
    from cashout_cancel.handler import lambda_handler

    # Given a bus refusing the entry
    failing_entries.add(1001)
    event = eventbridge_event(request(1001), event_id="ev-3")

    # When the event is handled, Then it raises although the cancel went through
    with pytest.raises(RetryableFailure, match="could not be published"):
        lambda_handler(event, LambdaContext())
    assert batch_env.status_of(1001) == CANCELLED

    # And Lambda's retry publishes ALREADY_CANCELLED: the ledger sees status 2 either way (the
    # bus here is moto's, which kept the refused entry too: only the retry's is looked at)
    failing_entries.clear()
    assert lambda_handler(event, LambdaContext())["outcome"] == "ALREADY_CANCELLED"
    detail = results.details()[-1]
    assert (detail["outcome"], detail["cashout_status"]) == ("ALREADY_CANCELLED", CANCELLED)
    assert detail["request_id"] == "ev-3"


@pytest.fixture
def bus_refusing_first_of(batch_env: D24Sandbox) -> Iterator[set[str]]:
    """Message ids the bus refuses one result of: the first entry it is given for each (moto
    refuses an entry whose Detail is not JSON, and puts nothing of it on the bus)."""
    from cashout_cancel import container

    refuse: set[str] = set()

    def malform_first(params: dict[str, Any], **_: Any) -> None:
        entries = []
        for entry in params["Entries"]:
            request_id = json.loads(entry["Detail"])["request_id"]
            refused = request_id in refuse
            refuse.discard(request_id)
            entries.append({**entry, "Detail": "refused: not JSON"} if refused else entry)
        params["Entries"] = entries

    client = container.events_client()
    client.meta.events.register("before-parameter-build.events.PutEvents", malform_first)
    yield refuse
    client.meta.events.unregister("before-parameter-build.events.PutEvents", malform_first)


def assert_never_both(message_id: str, failed: list[str], results: ResultsTap) -> None:
    """Section 10: a message id is done (a result of it is on the bus) or handed back, never
    both, and never neither."""
    published = [d for d in results.details() if d["request_id"] == message_id]
    assert (message_id in failed) != bool(published), (failed, published)


def test_a_message_delivered_twice_in_a_batch_whose_result_the_bus_refuses_once_is_never_both(
    batch_env: D24Sandbox, bus_refusing_first_of: set[str], results: ResultsTap
) -> None:
    # Given one message delivered twice in a batch, and a bus that refuses one of its results
    event = sqs_event(request(1001), request(1001), message_ids=["twice", "twice"])
    bus_refusing_first_of.add("twice")

    # When the batch runs (both copies are answered: CANCELLED and ALREADY_CANCELLED)
    failed = invoke_batch(event)

    # Then the message is done or handed back, never both
    assert_never_both("twice", failed, results)
    assert batch_env.status_of(1001) == CANCELLED


def test_a_message_delivered_twice_in_a_batch_whose_one_copy_fails_is_never_both(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch, results: ResultsTap
) -> None:
    # Given one message delivered twice in a batch, its copies cancelled one after the other,
    # and D24 answering 503 to every attempt of the first copy (its cancel and its look-up)
    monkeypatch.setenv("BULK_CONCURRENCY", "1")
    batch_env.inject(Fault.status(503), endpoint="any", times=6)
    event = sqs_event(request(1001), request(1001), message_ids=["twice", "twice"])

    # When the batch runs: one copy is a retryable 502, the other is cancelled
    failed = invoke_batch(event)

    # Then the message is handed back whole (to be redone), with no result on the bus
    assert batch_env.status_of(1001) == CANCELLED
    assert_never_both("twice", failed, results)
    assert failed == ["twice"]


def test_without_a_results_bus_async_callers_send_nothing(
    batch_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given RESULTS_EVENT_BUS unset: results of SQS and EventBridge cancels could not be published
    monkeypatch.delenv("RESULTS_EVENT_BUS")
    event = sqs_event(request(1001))

    # When a batch runs, Then it is handed back and nothing was cancelled
    assert invoke_batch(event) == [event["Records"][0]["messageId"]]
    assert batch_env.received() == []


# Observability


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    from cashout_cancel.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    captured = io.StringIO()
    previous = handler.setStream(captured)
    yield captured
    handler.setStream(previous)


def test_each_message_s_result_line_carries_its_message_id(
    batch_env: D24Sandbox, log_lines: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sqs_event(request(1001), request(1002), "not json")
    invoke_batch(event)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    finished = {
        line["correlation_id"]: line for line in lines if line["message"] == "cancel finished"
    }
    assert set(finished) == {record["messageId"] for record in event["Records"]}
    assert {line["caller"] for line in finished.values()} == {"sqs"}

    # And the metrics count outcomes per caller as well as in all
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"], ["service", "caller"]]
    assert emf["caller"] == "sqs"
    assert emf["CANCELLED"] == [1.0, 1.0]
    assert emf["BatchItemFailures"] == [1.0]
    assert sum(emf["ResultsPublished"]) == 2.0


def test_a_message_body_over_8_kib_is_an_invalid_request_like_any_caller_s(
    batch_env: D24Sandbox, log_lines: io.StringIO, results: ResultsTap
) -> None:
    # Given a valid cancel of 1001 in a message body padded past 8 KiB, beside a valid one
    event = sqs_event(OVERSIZED_BODY, request(1002))
    oversized = event["Records"][0]["messageId"]

    # When the batch runs
    failed = invoke_batch(event)

    # Then the oversized message is refused as invalid and handed back (for the dead-letter
    # queue); nothing is sent for it, nothing published; the other is cancelled
    assert failed == [oversized]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [refused] = [line for line in lines if line.get("correlation_id") == oversized]
    assert (refused["outcome"], refused["status_code"]) == ("INVALID_REQUEST", 400)
    assert {r.json()["cashout_id"] for r in batch_env.received()} == {1002}
    assert batch_env.status_of(1001) == PENDING
    assert [d["cashout_id"] for d in results.details()] == [1002]


def test_an_eventbridge_result_published_is_counted_under_its_caller(
    batch_env: D24Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    from cashout_cancel.handler import lambda_handler

    lambda_handler(eventbridge_event(request(1001)), LambdaContext())

    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf["caller"] == "eventbridge"
    assert emf["ResultsPublished"] == [1.0]
    assert emf["CANCELLED"] == [1.0]


def test_a_batch_refused_by_d24_re_reads_the_secret_once_not_once_per_message(
    batch_env: D24Sandbox, secret_reads: SecretReads, log_lines: io.StringIO, results: ResultsTap
) -> None:
    # Given a warm function, and D24 refusing the cached password while Secrets Manager still
    # holds it (rotated at D24 only)
    assert invoke_batch(sqs_event(request(1005))) == []
    batch_env.set_credentials(password="rotated-at-d24-only")
    for cashout_id in range(5001, 5011):
        batch_env.add_cashout(cashout_id, f"ext-{cashout_id}")
    read_before = len(secret_reads)

    # When a batch of ten cancels runs
    event = sqs_event(*(request(i) for i in range(5001, 5011)))
    failed = invoke_batch(event)

    # Then the secret is read once more for the whole batch, and every cancel is told the
    # credentials were refused (handed back, nothing published)
    assert len(secret_reads) - read_before == 1
    ids = [record["messageId"] for record in event["Records"]]
    assert sorted(failed) == sorted(ids)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    outcomes = {line["correlation_id"]: line["outcome"] for line in lines if line["message"]
                == "cancel finished" and line["correlation_id"] in ids}  # fmt: skip
    assert outcomes == dict.fromkeys(ids, "UPSTREAM_AUTH_FAILED")
    assert [d["cashout_id"] for d in results.details()] == [1005]
