"""SQS: bulk cancels from a queue worked by Lambda's SQS event source (CONTRACT section 9).

Each message body is the direct-invoke object as JSON. The batch's cancels run side by side, at
most BULK_CONCURRENCY at once; results are published for the ledger while the last cancels are
still in flight (ten to a PutEvents call at most). The answer is the partial batch response: the
messages to deliver again.

Why not Powertools' batch utility: `BatchProcessor` runs the record handler for one record after
another, and `AsyncBatchProcessor` gathers every record at once on an event loop. Neither bounds
the cancels in flight nor lets results be published ten to a PutEvents call while other records
are still being worked, which is what sets the pace here (`make bench`, bulk). Building the
response itself is the easy part: a list of message ids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from .. import runtime
from ..deadline import Deadline
from ..errors import ConfigurationError
from ..observability import record_batch_item_failures
from ..outcomes import CancelResult
from ..result_events import MAX_ENTRIES_PER_CALL, ResultEvent
from ..validation import CancelRequest, InvalidRequest, parse_json_object
from . import direct, refusal

if TYPE_CHECKING:
    from ..invocation import Invocation

EVENT_SOURCE = "aws:sqs"


def is_sqs_event(event: dict[str, Any]) -> bool:
    """True for a batch from Lambda's SQS event source: records whose eventSource is aws:sqs."""
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == EVENT_SOURCE for r in records)
    )


@dataclass(frozen=True)
class _Message:
    """One message of the batch: its id, and the request in it or the refusal of it."""

    message_id: str
    request: CancelRequest | CancelResult

    @property
    def refused(self) -> bool:
        """Refused here (invalid): nothing is sent for it."""
        return isinstance(self.request, CancelResult)


class SqsCaller:
    """A queue of bulk cancels; a message is done unless it is listed for redelivery."""

    name = "sqs"

    def serve(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """Cancel every message's cashout; list the ones to deliver again (section 9)."""
        messages = [_message(record) for record in event["Records"]]
        failed: list[str] = []
        ready: list[ResultEvent] = []
        unrecorded: list[_Settled] = []
        published_early = False

        def publish(events: list[ResultEvent]) -> None:
            accepted = invocation.publish(events)
            failed.extend(e.request_id for e, ok in zip(events, accepted, strict=True) if not ok)

        def record() -> None:
            for settled in unrecorded:
                if settled.result is not None:
                    invocation.record(settled.result, settled.message.message_id, settled.seconds)
            unrecorded.clear()

        for settled, progress in _progress(messages, invocation):
            if settled is not None:
                unrecorded.append(settled)
                message, result = settled.message, settled.result
                if result is None or result.status_code >= 500 or message.refused:
                    # Not started in time, a retryable failure, or invalid: delivered again (an
                    # invalid message ends in the dead-letter queue, where an operator sees it).
                    failed.append(message.message_id)
                else:
                    ready.append(ResultEvent(result, self.name, message.message_id))
            if progress.waiting:
                continue  # the CPU goes to the cancels waiting to start; the rest can wait
            # Results are put on the bus while the last cancels are in flight, so that little
            # follows the last cancel: ten at a time (PutEvents' limit), and once when the last
            # cancel has started and nothing else is ready to be read.
            if len(ready) >= MAX_ENTRIES_PER_CALL or (
                ready and progress.in_flight and not progress.ready and not published_early
            ):
                published_early = True
                publish(ready[:MAX_ENTRIES_PER_CALL])
                del ready[:MAX_ENTRIES_PER_CALL]
            if progress.in_flight or progress.ready:
                record()  # while cancels are in flight; after the last one, publishing goes first
        publish(ready)
        record()
        record_batch_item_failures(len(failed))
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def _message(record: dict[str, Any]) -> _Message:
    body = record.get("body")
    message_id = str(record.get("messageId"))
    if not isinstance(body, str):
        return _Message(message_id, refusal(InvalidRequest("message body must be a JSON object")))
    try:
        payload = parse_json_object(body, "message body")
    except InvalidRequest as problem:
        return _Message(message_id, refusal(problem))
    return _Message(message_id, direct.to_request(payload))


@dataclass(frozen=True)
class _Settled:
    """A message's result (None: not started before the deadline) and the seconds it took."""

    message: _Message
    result: CancelResult | None
    seconds: float


@dataclass(frozen=True)
class _Progress:
    """Where the batch stands."""

    waiting: bool  # cancels wait for a worker to start them
    ready: bool  # results are ready to be handed out
    in_flight: int  # cancels started and not finished


_ALL_STARTED = None  # what a worker says when it starts the last cancel that was waiting


class _Cancels:
    """A batch's cancels on the bulk pool, at most BULK_CONCURRENCY at once; each result is
    handed out as it is ready.

    The workers only cancel; whatever is done with a result happens on the batch's thread, so a
    worker starts the next cancel the moment D24 has answered the last one."""

    def __init__(self, invocation: Invocation) -> None:
        self._invocation = invocation
        self._deadline = invocation.cancel_deadline(publishes=True)
        self._start_by = _latest_start(self._deadline)
        self._pool = runtime.bulk_pool(invocation.bulk_concurrency)
        self._lock = threading.Lock()
        self._waiting = 0  # submitted, not yet started by a worker
        self._unread = 0  # submitted, not yet handed out
        # Finished cancels, and _ALL_STARTED: a result handed out while a cancel still waited
        # may be the last one for a while, and the batch's thread must not sleep on it.
        self._news: SimpleQueue[Future[_Settled] | None] = SimpleQueue()

    def submit(self, message: _Message) -> None:
        with self._lock:
            self._waiting += 1
        self._unread += 1
        self._pool.submit(self._cancel, message).add_done_callback(self._news.put)

    def progress(self) -> Iterator[tuple[_Settled | None, _Progress]]:
        """Each result as it is ready, and where the batch stands then; or no result, only the
        news that every cancel has started."""
        while self._unread:
            news = self._news.get()
            settled = None
            if news is not _ALL_STARTED:
                self._unread -= 1
                settled = news.result()
            ready = self._news.qsize()  # an _ALL_STARTED among them is counted: no harm
            with self._lock:
                waiting = self._waiting
            yield settled, _Progress(waiting > 0, ready > 0, self._unread - ready - waiting)

    def _cancel(self, message: _Message) -> _Settled:
        with self._lock:
            self._waiting -= 1
            if self._waiting == 0:
                self._news.put(_ALL_STARTED)
        # Queued behind the cancels in flight: start only if there is still time for a whole one.
        if self._deadline.remaining() < self._start_by:
            return _Settled(message, None, 0.0)
        started = time.perf_counter()
        result = self._invocation.settle(
            message.request, message.message_id, publishes=True, deadline=self._deadline
        )
        return _Settled(message, result, time.perf_counter() - started)


def _progress(
    messages: list[_Message], invocation: Invocation
) -> Iterator[tuple[_Settled | None, _Progress]]:
    """Each message's result as it is ready: the refused ones first, then the cancels."""
    cancels = _Cancels(invocation)
    refusals: list[tuple[_Message, CancelResult]] = []
    for message in messages:
        if isinstance(message.request, CancelResult):
            refusals.append((message, message.request))
        else:
            cancels.submit(message)
    for message, refused in refusals:  # refused here: nothing to send, nothing to wait for
        yield _Settled(message, refused, 0.0), _Progress(waiting=True, ready=True, in_flight=0)
    yield from cancels.progress()


def _latest_start(deadline: Deadline) -> float:
    """Seconds a cancel needs left to be worth starting: one full D24 attempt and the status
    look-up after it, or half the invocation's time when that is shorter (short timeouts)."""
    try:
        attempt = runtime.service().attempt_limit
    except ConfigurationError:  # every cancel answers CONFIGURATION_ERROR at once
        return 0.0
    return min(2 * attempt, deadline.remaining() / 2)


CALLER = SqsCaller()
