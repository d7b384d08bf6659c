"""A local stand-in for Lambda's SQS event source mapping, the template's `BulkCancels`
(docs/contract.md section 9): batches in Lambda's shape, at most `maximum_concurrency` at once,
deleting what the partial batch response says is done; the redrive is SQS's (moto's). Not
modelled: the batching window, back-off after failed invocations, scaling with the backlog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local.events import received_sqs_event

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_BATCH_SIZE = 10  # one ReceiveMessage; more needs Lambda's batching window, not modelled
# Short polling and a short pause when nothing is visible: moto's long polling wakes only for new
# messages, not for ones whose visibility timeout ends.
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


@dataclass(frozen=True)
class Batch:
    """One invocation: how many of its messages were deleted and handed back, and why all were
    handed back (None: they were not)."""

    deleted: int
    handed_back: int
    failure: str | None = None


@dataclass
class EventSourceRun:
    """Everything one run of the event source did."""

    batches: list[Batch] = field(default_factory=list)
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
        return sum(batch.handed_back for batch in self.batches)


def left_for_redelivery(answer: Any, message_ids: Sequence[str]) -> frozenset[str] | None:
    """The messages a partial batch response leaves for redelivery; None: the whole batch. As
    Lambda reads it: no answer, or a missing, null or empty `batchItemFailures`, is all done; an
    answer of another shape, or an identifier not a message of the batch, fails it all."""
    if answer is None:
        return frozenset()
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else ()
    if failures is None:
        return frozenset()
    if not isinstance(failures, list):
        return None
    listed: list[Any] = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    if not all(isinstance(identifier, str) and identifier in message_ids for identifier in listed):
        return None
    return frozenset(listed)


def queue_arn(client: Any, queue_url: str) -> str:
    """A queue's ARN."""
    found = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(found["Attributes"]["QueueArn"])


def messages_in(client: Any, queue_url: str) -> int:
    """Messages in a queue: visible, in flight or delayed."""
    kinds = ("Messages", "MessagesNotVisible", "MessagesDelayed")
    names = [f"ApproximateNumberOf{kind}" for kind in kinds]
    found = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
    return sum(int(count) for count in found["Attributes"].values())


class SqsEventSource:
    """Polls one queue for the function, one poller per execution environment."""

    def __init__(
        self, client: SQSClient, mapping: EventSourceMapping, environments: Sequence[Environment]
    ) -> None:
        self._client, self.mapping = client, mapping
        self._environments = list(environments)[: mapping.maximum_concurrency]
        self.queue_arn = queue_arn(client, mapping.queue_url)
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
        self._started = time.monotonic()
        for environment in self._environments:
            poller = threading.Thread(target=self._poller, args=(environment,), daemon=True)
            self._pollers.append(poller)
            poller.start()

    def drain(self, timeout: float) -> EventSourceRun:
        """Work the queue until nothing is left in it, visible or in flight, or `timeout` ends;
        an invocation under way finishes first. What the run did."""
        self._draining.set()
        self._run.timed_out = not self._stop.wait(timeout)
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
                # The queue's own visibility timeout applies, as it does to Lambda's pollers.
                messages = self._client.receive_message(
                    QueueUrl=self.mapping.queue_url,
                    MaxNumberOfMessages=self.mapping.batch_size,
                    WaitTimeSeconds=0,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if messages:
                    self._deliver(environment, [dict(message) for message in messages])
                # Twice: the counts are not read at one instant, and a message whose visibility
                # timeout ends between two readings is in neither count.
                elif self._draining.is_set() and not self._left() and not self._left():
                    self._stop.set()
                else:
                    self._stop.wait(IDLE_PAUSE_SECONDS)
        except BaseException as exc:  # a broken queue ends the run; drain() re-raises
            self._errors.append(exc)
            self._stop.set()

    def _left(self) -> int:
        return messages_in(self._client, self.mapping.queue_url)

    def _deliver(self, environment: Environment, messages: list[dict[str, Any]]) -> None:
        """One invocation with `messages`, then delete what it says is done."""
        ids = tuple(message["MessageId"] for message in messages)
        with self._lock:
            self._running += 1
            self._run.peak_concurrency = max(self._run.peak_concurrency, self._running)
        try:
            answer = environment(received_sqs_event(messages, self.queue_arn))
            kept = left_for_redelivery(answer, ids)
            failure = None if kept is not None else "the answer is not a partial batch response"
        except Exception as exc:  # an invocation error: Lambda deletes nothing of the batch
            kept, failure = None, f"the function raised {type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._running -= 1
        handed_back = frozenset(ids) if kept is None else kept
        done = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in handed_back]
        if done:
            # Batch entry ids are positions: message ids may hold characters SQS refuses there.
            answer = self._client.delete_message_batch(
                QueueUrl=self.mapping.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(done)],
            )
            if answer.get("Failed"):
                raise RuntimeError(f"SQS refused to delete: {answer['Failed']}")
        with self._lock:
            self._run.batches.append(Batch(len(done), len(handed_back), failure))
