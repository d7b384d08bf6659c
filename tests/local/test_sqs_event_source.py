"""The local SQS event source (local/sqs_event_source.py) against moto's SQS: Lambda's event
shape, the partial batch response, redelivery, the dead-letter queue and the concurrency cap.

The queue's visibility timeout is one second, so each redelivery costs these tests a second.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from local.sqs_event_source import (
    EventSourceMapping,
    EventSourceRun,
    SqsEventSource,
    left_for_redelivery,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

REGION = "us-east-1"
MAX_RECEIVE_COUNT = 2
SHAPES = json.loads(
    (Path(__file__).resolve().parents[1] / "unit" / "aws_event_shapes.json").read_text()
)["sqs"]

Answer = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Queues:
    """A cancel queue with a redrive policy to its dead-letter queue."""

    sqs: SQSClient
    url: str
    arn: str
    dead_letter_url: str

    def send(self, *bodies: str, **attributes: Any) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body, **attributes)

    def dead_letters(self) -> list[str]:
        answer = self.sqs.receive_message(QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10)
        return sorted(message["Body"] for message in answer.get("Messages", []))

    def left(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(count) for count in attributes.values())


@pytest.fixture
def queues() -> Iterator[Queues]:
    # Names of their own: moto's store is per process, shared with anything else that uses it.
    suffix = uuid.uuid4().hex[:8]
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        dead_letter_url = sqs.create_queue(QueueName=f"CancelDeadLetterQueue-{suffix}")["QueueUrl"]
        dead_letter_arn = sqs.get_queue_attributes(
            QueueUrl=dead_letter_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
        url = sqs.create_queue(
            QueueName=f"CancelQueue-{suffix}",
            Attributes={"VisibilityTimeout": "1", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        yield Queues(sqs, url, arn["QueueArn"], dead_letter_url)


class Function:
    """An execution environment that records every event it is given and answers `answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self.events.append(event)
        return self.answer(event)

    def records(self) -> list[dict[str, Any]]:
        return [record for event in self.events for record in event["Records"]]

    def receives(self) -> Counter[str]:
        """How many times each body was delivered."""
        return Counter(record["body"] for record in self.records())


def failing(*bodies: str, times: int = 1000) -> Answer:
    """A partial batch response listing the messages with these bodies, `times` times each."""
    left = Counter(dict.fromkeys(bodies, times))

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        listed = []
        for record in event["Records"]:
            if left[record["body"]] > 0:
                left[record["body"]] -= 1
                listed.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": listed}

    return answer


def work(queues: Queues, *functions: Function, **mapping: Any) -> EventSourceRun:
    source = SqsEventSource(queues.sqs, EventSourceMapping(queues.url, **mapping), functions)
    return source.run_until_drained(timeout=20)


def test_each_batch_is_the_event_sam_generates_with_the_real_message_attributes(
    queues: Queues,
) -> None:
    # Given three messages on the queue
    queues.send("one", "two", "three")
    function = Function(failing())

    # When the event source works the queue
    run = work(queues, function)

    # Then the function got one event in the exact shape of sam's sample, built from the messages
    assert not run.timed_out
    [event] = function.events
    assert set(event) == set(SHAPES["top_level"])
    for record in event["Records"]:
        assert sorted(record) == SHAPES["record"]
        assert sorted(record["attributes"]) == SHAPES["record.attributes"]
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert record["attributes"]["SentTimestamp"].isdigit()
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queues.arn
        assert record["awsRegion"] == REGION
        assert record["messageAttributes"] == {}
    assert sorted(record["body"] for record in event["Records"]) == ["one", "three", "two"]
    # And every message, done, was deleted
    assert (run.deleted, queues.left()) == (3, 0)


def test_message_attributes_are_passed_as_lambda_spells_them(queues: Queues) -> None:
    # Given a message with a string and a binary attribute
    queues.send(
        "with attributes",
        MessageAttributes={
            "origin": {"DataType": "String", "StringValue": "ops"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    function = Function(failing())

    # When the event source works the queue
    work(queues, function)

    # Then the record carries them in camelCase, binary in base64, with their digest
    [record] = function.records()
    assert record["messageAttributes"] == {
        "origin": {
            "stringValue": "ops",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AAE=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert len(record["md5OfMessageAttributes"]) == 32


@pytest.mark.slow
def test_only_the_messages_listed_as_failures_come_back_and_the_rest_are_deleted(
    queues: Queues,
) -> None:
    # Given four messages, and a function that hands one back the first time it sees it
    queues.send("a", "b", "c", "d")
    function = Function(failing("b", times=1))

    # When the event source works the queue
    run = work(queues, function)

    # Then "b" came back once, after its visibility timeout, with its receive count up; no other
    assert function.receives() == {"a": 1, "b": 2, "c": 1, "d": 1}
    second = [r for r in function.records() if r["attributes"]["ApproximateReceiveCount"] == "2"]
    assert [record["body"] for record in second] == ["b"]
    assert (run.deleted, run.handed_back, queues.left(), queues.dead_letters()) == (4, 1, 0, [])


@pytest.mark.slow
def test_a_function_that_raises_has_its_whole_batch_delivered_again(queues: Queues) -> None:
    # Given a function that raises on its first invocation only
    queues.send("a", "b", "c")
    calls = []

    def raise_once(event: dict[str, Any]) -> dict[str, Any]:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"batchItemFailures": []}

    function = Function(raise_once)

    # When the event source works the queue
    run = work(queues, function)

    # Then nothing of the first batch was deleted: every message came back and was done then
    assert function.receives() == {"a": 2, "b": 2, "c": 2}
    assert sum(batch.failure is not None for batch in run.batches) == 1
    assert run.batches[0].failure == "the function raised RuntimeError: boom"
    assert (run.batches[0].deleted, run.deleted, queues.left()) == (0, 3, 0)


@pytest.mark.slow
def test_an_answer_lambda_cannot_read_deletes_nothing(queues: Queues) -> None:
    # Given a function that first names a message that is not in the batch
    queues.send("a", "b")
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "no-such-message"}]}, None])
    function = Function(lambda event: next(answers))

    # When the event source works the queue
    run = work(queues, function)

    # Then the whole first batch came back, and the second answer (none: success) deleted both
    assert function.receives() == {"a": 2, "b": 2}
    assert run.batches[0].failure is not None
    assert (run.deleted, queues.left()) == (2, 0)


@pytest.mark.slow
def test_a_message_that_fails_every_receive_ends_in_the_dead_letter_queue(queues: Queues) -> None:
    # Given a message the function hands back every time, beside one it does
    queues.send("poison", "fine")
    function = Function(failing("poison"))

    # When the event source works the queue
    run = work(queues, function)

    # Then "poison" was received maxReceiveCount times, then SQS (moto) moved it to the DLQ
    assert function.receives() == {"poison": MAX_RECEIVE_COUNT, "fine": 1}
    assert queues.dead_letters() == ["poison"]
    assert (run.handed_back, queues.left()) == (MAX_RECEIVE_COUNT, 0)


def test_no_more_than_maximum_concurrency_invocations_run_at_once(queues: Queues) -> None:
    # Given 30 messages and three execution environments that each take a while to answer
    # (under a visibility timeout no invocation can outlast: with one second, a busy test machine
    # saw a message come back, and this test is about concurrency, not redelivery)
    queues.sqs.set_queue_attributes(QueueUrl=queues.url, Attributes={"VisibilityTimeout": "60"})
    queues.send(*(f"m{n}" for n in range(30)))
    running, peak, lock = 0, 0, threading.Lock()

    def slow(event: dict[str, Any]) -> dict[str, Any]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)  # long enough for the other poller's receive, even on a busy machine
        with lock:
            running -= 1
        return {"batchItemFailures": []}

    functions = [Function(slow) for _ in range(3)]

    # When the event source works the queue with a batch size of 4 and a maximum concurrency of 2
    run = work(queues, *functions, batch_size=4, maximum_concurrency=2)

    # Then two invocations ran at once, never three, each with at most 4 messages
    assert peak == run.peak_concurrency == 2
    assert functions[2].events == []
    assert all(len(event["Records"]) <= 4 for f in functions for event in f.events)
    assert sum(f.receives().total() for f in functions) == 30
    assert queues.left() == 0


@pytest.mark.parametrize(
    ("answer", "left"),
    [
        pytest.param(None, frozenset(), id="no answer: all done"),
        pytest.param({}, frozenset(), id="empty object: all done"),
        pytest.param({"batchItemFailures": None}, frozenset(), id="null list: all done"),
        pytest.param({"batchItemFailures": []}, frozenset(), id="empty list: all done"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}, id="one listed"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": ""}]}, None, id="empty id"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": None}]}, None, id="null id"),
        pytest.param({"batchItemFailures": [{"id": "m1"}]}, None, id="bad key"),
        pytest.param({"batchItemFailures": [{"itemIdentifier": "m9"}]}, None, id="unknown id"),
        pytest.param({"batchItemFailures": "m1"}, None, id="not a list"),
        pytest.param({"batchItemFailures": ["m1"]}, None, id="not objects"),
        pytest.param("done", None, id="not an object"),
    ],
)
def test_a_partial_batch_response_is_read_as_lambda_reads_it(
    answer: Any, left: frozenset[str] | None
) -> None:
    assert left_for_redelivery(answer, ("m1", "m2", "m3")) == left


def test_a_batch_size_above_ten_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_size must be 1-10"):
        EventSourceMapping("http://localhost/queue", batch_size=11)
