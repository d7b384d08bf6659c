"""A local stand-in for Lambda's SQS event source mapping: polls a queue, hands the function
batches in the shape Lambda gives it, and deletes what the answer says is done.

    source = SqsEventSource(sqs_client, EventSourceMapping(queue_url), [invoke, invoke])
    source.start()  # live before anything is sent, as Lambda's mapping is
    ...  # send messages
    run = source.drain(timeout=60)  # until the queue is empty and nothing is in flight

It does what the template's `BulkCancels` event source does (CONTRACT section 9):

- receives up to `batch_size` messages (BulkBatchSize, default 10) with their real system
  attributes, under the queue's own visibility timeout, and builds the event exactly as
  `sam local generate-event sqs receive-message` shows it (`lambda_event`);
- runs at most `maximum_concurrency` invocations at once (ScalingConfig.MaximumConcurrency,
  default 2), each in its own execution environment: an environment serves one invocation at a
  time, as Lambda's do, so the pollers are as many as the environments it is given, up to that;
- honours ReportBatchItemFailures (`left_for_redelivery`): every message not listed in
  `batchItemFailures` is deleted; a listed one stays, to come back when its visibility timeout
  ends; when the function raises or answers something Lambda cannot read, nothing is deleted;
- leaves the redrive policy to SQS: a message received `maxReceiveCount` times moves to the
  dead-letter queue on the next receive. moto does that move on receive as SQS does (its
  `receive_message`; tests/local/test_sqs_event_source.py proves it), so nothing here moves it.

Standard library and boto3 only. Not modelled: Lambda's batching window (batches above 10), its
back-off after failed invocations, and scaling the pollers with the backlog.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

EVENT_SOURCE = "aws:sqs"
MAX_BATCH_SIZE = 10  # one ReceiveMessage; more needs Lambda's batching window, not modelled
# The system attributes Lambda puts in a record, in its order; the last five only when SQS has
# them (FIFO queues, X-Ray, a redriven message).
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
# Short polling and a short pause when the queue has nothing visible: moto's long polling only
# wakes for new messages, not for ones whose visibility timeout ends, so a redelivery would wait
# up to a second more than it does in SQS.
IDLE_PAUSE_SECONDS = 0.05

Environment = Callable[[dict[str, Any]], Any]  # one execution environment: event -> answer


@dataclass(frozen=True)
class EventSourceMapping:
    """The event source's settings, as template.yaml's BulkCancels sets them."""

    queue_url: str
    batch_size: int = 10  # BulkBatchSize
    maximum_concurrency: int = 2  # BulkMaximumConcurrency (AWS's minimum is 2)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1-{MAX_BATCH_SIZE}, got {self.batch_size}")
        if self.maximum_concurrency < 1:
            raise ValueError(f"maximum_concurrency must be >= 1, got {self.maximum_concurrency}")


@dataclass(frozen=True)
class Batch:
    """One invocation: what it was given and what became of each message."""

    message_ids: tuple[str, ...]
    receive_counts: tuple[int, ...]  # ApproximateReceiveCount of each message, this receive
    handed_back: frozenset[str]  # left in the queue, to come back after the visibility timeout
    failure: str | None = None  # why the whole batch was left (a raise, an unreadable answer)
    not_deleted: frozenset[str] = frozenset()  # done, but SQS refused to delete them
    seconds: float = 0.0  # how long the invocation took

    @property
    def deleted(self) -> int:
        """How many of its messages were deleted."""
        return len(self.message_ids) - len(self.handed_back) - len(self.not_deleted)


@dataclass
class EventSourceRun:
    """Everything one run of the event source did."""

    batches: list[Batch] = field(default_factory=list)
    bodies: dict[str, str] = field(default_factory=dict)  # message id -> body, as delivered
    seconds: float = 0.0
    timed_out: bool = False
    peak_concurrency: int = 0  # the most invocations that were running at once

    @property
    def deleted(self) -> int:
        """Messages deleted after their invocation."""
        return sum(batch.deleted for batch in self.batches)

    @property
    def handed_back(self) -> int:
        """Deliveries left in the queue for redelivery (one message may count several times)."""
        return sum(len(batch.handed_back) for batch in self.batches)

    @property
    def failed_invocations(self) -> int:
        """Invocations whose whole batch was left (the function raised or answered nonsense)."""
        return sum(batch.failure is not None for batch in self.batches)


def lambda_event(messages: Iterable[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda builds from received messages (ReceiveMessage's shape, attributes 'All')."""
    return {"Records": [lambda_record(message, queue_arn) for message in messages]}


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record, keys in the order `sam local generate-event sqs receive-message` gives them."""
    system = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: _record_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["eventSource"] = EVENT_SOURCE
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region_of(queue_arn)
    return record


def _record_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda spells it: camelCase keys, binary values in base64."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value["DataType"]
    return attribute


def region_of(arn: str) -> str:
    """The region of an ARN (arn:partition:service:region:account:resource)."""
    return arn.split(":")[3]


def left_for_redelivery(answer: Any, message_ids: Sequence[str]) -> frozenset[str] | None:
    """The messages a partial batch response leaves for redelivery; None: the whole batch.

    Lambda's rules for ReportBatchItemFailures: no answer, an empty object, or a null or empty
    `batchItemFailures` is complete success; an identifier that is empty, null, under another
    key or not a message of the batch, or an answer that is not such an object, fails it all.
    """
    if answer is None:
        return frozenset()
    if not isinstance(answer, dict):
        return None
    failures = answer.get("batchItemFailures")
    if failures is None:
        return frozenset()
    if not isinstance(failures, list):
        return None
    listed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        listed.add(identifier)
    return frozenset(listed)


class SqsEventSource:
    """Polls one queue for the function, one poller per execution environment."""

    def __init__(
        self,
        client: SQSClient,
        mapping: EventSourceMapping,
        environments: Sequence[Environment],
    ) -> None:
        if not environments:
            raise ValueError("at least one execution environment is needed")
        self._client = client
        self.mapping = mapping
        self._environments = list(environments)[: mapping.maximum_concurrency]
        attributes = client.get_queue_attributes(
            QueueUrl=mapping.queue_url, AttributeNames=["QueueArn"]
        )
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self._run = EventSourceRun()
        self._lock = threading.Lock()
        self._running = 0
        self._stop = threading.Event()
        self._draining = threading.Event()  # from now on, an empty queue ends the run
        self._pollers: list[threading.Thread] = []
        self._started = 0.0
        self._errors: list[BaseException] = []

    def start(self) -> None:
        """Start polling; the pollers wait on an empty queue until `drain` is called."""
        if self._pollers:
            raise RuntimeError("the event source is already started")
        self._started = time.monotonic()
        self._pollers = [
            threading.Thread(target=self._poller, args=(env,), name=f"sqs-poller-{n}", daemon=True)
            for n, env in enumerate(self._environments)
        ]
        for poller in self._pollers:
            poller.start()

    def drain(self, timeout: float) -> EventSourceRun:
        """Work the queue until nothing is left in it, visible or in flight, or `timeout` ends."""
        self._draining.set()
        self._run.timed_out = not self._stop.wait(timeout)
        return self.stop()

    def stop(self) -> EventSourceRun:
        """Stop polling (an invocation under way finishes first); what the run did."""
        self._stop.set()
        for poller in self._pollers:
            poller.join()
        self._run.seconds = time.monotonic() - self._started
        if self._errors:
            raise self._errors[0]
        return self._run

    def run_until_drained(self, timeout: float) -> EventSourceRun:
        """Start, then drain: work what the queue holds now until nothing is left."""
        self.start()
        return self.drain(timeout)

    def _poller(self, environment: Environment) -> None:
        try:
            while not self._stop.is_set():
                messages = self._receive()
                if messages:
                    self._deliver(environment, messages)
                elif self._draining.is_set() and self._drained():
                    self._stop.set()
                else:
                    self._stop.wait(IDLE_PAUSE_SECONDS)
        except BaseException as exc:  # a broken queue ends the run; stop() re-raises
            self._errors.append(exc)
            self._stop.set()

    def _receive(self) -> list[dict[str, Any]]:
        # The queue's own visibility timeout applies, as it does to Lambda's pollers.
        answer = self._client.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=self.mapping.batch_size,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [dict(message) for message in answer.get("Messages", [])]

    def _drained(self) -> bool:
        """Nothing visible and nothing in flight, twice in a row: no message can come back.

        Twice, because the counts are not read at one instant: a message whose visibility
        timeout ends between the reading of the visible count and of the in-flight count is in
        neither (seen on a busy machine: a handed-back message never came back). In the second
        reading it is visible, or in flight again if another poller took it.
        """
        return self._empty() and self._empty()

    def _empty(self) -> bool:
        answer = self._client.get_queue_attributes(
            QueueUrl=self.mapping.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )
        return all(int(count) == 0 for count in answer["Attributes"].values())

    def _deliver(self, environment: Environment, messages: list[dict[str, Any]]) -> None:
        """One invocation with `messages`, then delete what it says is done."""
        ids = tuple(message["MessageId"] for message in messages)
        with self._lock:
            self._running += 1
            self._run.peak_concurrency = max(self._run.peak_concurrency, self._running)
            self._run.bodies.update((m["MessageId"], m["Body"]) for m in messages)
        try:
            kept, failure, took = _invoke(environment, lambda_event(messages, self.queue_arn), ids)
        finally:
            with self._lock:
                self._running -= 1
        done = {m["MessageId"]: m["ReceiptHandle"] for m in messages if m["MessageId"] not in kept}
        batch = Batch(
            message_ids=ids,
            receive_counts=tuple(
                int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)) for m in messages
            ),
            handed_back=kept,
            failure=failure,
            not_deleted=self._delete(done),
            seconds=took,
        )
        with self._lock:
            self._run.batches.append(batch)

    def _delete(self, receipts: dict[str, str]) -> frozenset[str]:
        """Delete messages by id -> receipt handle; the ids SQS did not delete."""
        if not receipts:
            return frozenset()
        ids = list(receipts)
        # Batch entry ids are the positions: message ids may hold characters SQS refuses there.
        answer = self._client.delete_message_batch(
            QueueUrl=self.mapping.queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": receipts[message_id]}
                for index, message_id in enumerate(ids)
            ],
        )
        return frozenset(ids[int(failed["Id"])] for failed in answer.get("Failed", []))


def _invoke(
    environment: Environment, event: dict[str, Any], ids: tuple[str, ...]
) -> tuple[frozenset[str], str | None, float]:
    """Invoke once: the messages to leave in the queue, why all of them (or None), and the
    seconds the invocation took."""
    started = time.monotonic()
    try:
        kept = left_for_redelivery(environment(event), ids)
    except Exception as exc:  # an invocation error: Lambda deletes nothing of the batch
        return frozenset(ids), f"the function raised {type(exc).__name__}: {exc}", _since(started)
    if kept is None:
        failure = "the answer is not a partial batch response Lambda can read"
        return frozenset(ids), failure, _since(started)
    return kept, None, _since(started)


def _since(started: float) -> float:
    return time.monotonic() - started
