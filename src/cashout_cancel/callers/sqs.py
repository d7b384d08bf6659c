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

from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
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


class SqsCaller:
    """A queue of bulk cancels; a message is done unless it is listed for redelivery."""

    name = "sqs"

    def serve(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """Cancel every message's cashout; list the ones to deliver again (section 9)."""
        messages = [_message(record) for record in event["Records"]]
        failed: list[str] = []
        ready: list[ResultEvent] = []

        def publish(events: list[ResultEvent]) -> None:
            accepted = invocation.publish(events)
            failed.extend(e.request_id for e, ok in zip(events, accepted, strict=True) if not ok)

        for message, result, more_ready in _results(messages, invocation):
            refused = isinstance(message.request, CancelResult)
            if result is None or result.status_code >= 500 or refused:
                # Not started in time, a retryable failure, or invalid: delivered again (an
                # invalid message ends in the dead-letter queue, where an operator sees it).
                failed.append(message.message_id)
            else:
                ready.append(ResultEvent(result, self.name, message.message_id))
            # Publish while the last cancels are still in flight, so that little follows the last
            # cancel: when ten results are ready (PutEvents' limit), or when every cancel has
            # started and no other result is waiting to be read (a call before then would take
            # CPU from cancels waiting to start).
            if ready and (len(ready) == MAX_ENTRIES_PER_CALL or not more_ready):
                publish(ready)
                ready = []
        publish(ready)
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


def _results(
    messages: list[_Message], invocation: Invocation
) -> Iterator[tuple[_Message, CancelResult | None, bool]]:
    """Each message's result as it is ready (None: not started before the deadline), and
    whether more is ready to be read or waiting to start."""
    deadline = invocation.cancel_deadline(publishes=True)
    start_by = _latest_start(deadline)
    pool = runtime.bulk_pool(invocation.bulk_concurrency)
    futures: dict[Future[CancelResult | None], _Message] = {}
    for message in messages:
        if isinstance(message.request, CancelResult):  # refused here: nothing to send
            yield message, invocation.run(message.request, message.message_id), True
            continue
        futures[pool.submit(_cancel, invocation, message, deadline, start_by)] = message
    pending = set(futures)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for left, future in enumerate(done, start=1 - len(done)):
            more = left < 0 or any(other.done() or not other.running() for other in pending)
            yield futures[future], future.result(), more


def _cancel(
    invocation: Invocation, message: _Message, deadline: Deadline, start_by: float
) -> CancelResult | None:
    # Queued behind the cancels in flight: start only if there is still time for a whole one.
    if deadline.remaining() < start_by:
        return None
    return invocation.run(message.request, message.message_id, publishes=True, deadline=deadline)


def _latest_start(deadline: Deadline) -> float:
    """Seconds a cancel needs left to be worth starting: one full D24 attempt and the status
    look-up after it, or half the invocation's time when that is shorter (short timeouts)."""
    try:
        attempt = runtime.service().attempt_limit
    except ConfigurationError:  # every cancel answers CONFIGURATION_ERROR at once
        return 0.0
    return min(2 * attempt, deadline.remaining() / 2)


CALLER = SqsCaller()
