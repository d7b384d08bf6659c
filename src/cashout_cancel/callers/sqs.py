"""SQS: bulk cancels from a queue worked by Lambda's SQS event source (docs/contract.md section 9).

Each message body is the direct-invoke object as JSON. A batch is a map: validate every message,
run the cancels on a pool of BULK_CONCURRENCY threads, publish the final results, and answer the
partial batch response: the messages to deliver again.

Why not Powertools' batch utility: `BatchProcessor` runs the record handler for one record after
another, and `AsyncBatchProcessor` needs an event loop and async code all the way to D24. Neither
bounds the cancels in flight to a number, and the response here is not "the records whose handler
raised" but a rule over results and publishing (section 10); building it is a set of message ids.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cancel.outcomes import CancelResult, Outcome
from ..cancel.request import CancelRequest, InvalidRequest, parse_json_object
from ..observability import record_batch_item_failures
from ..result_events import ResultEvent
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
    publishes = True

    def serve(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """Cancel every message's cashout; list the ones to deliver again (section 9)."""
        messages = [_message(record) for record in event["Records"]]
        with ThreadPoolExecutor(invocation.concurrency, thread_name_prefix="bulk") as pool:
            results = list(pool.map(lambda m: invocation.run(m.request, m.message_id), messages))
        # Delivered again: invalid messages (they end in the dead-letter queue, where an operator
        # sees them; one naming an account this deployment cannot serve too, section 11),
        # results of 500 or more (a cancel not started in time among them).
        again = {
            m.message_id
            for m, r in zip(messages, results, strict=True)
            if r.outcome is Outcome.INVALID_REQUEST or r.status_code >= 500
        }
        finals = [
            ResultEvent(r, self.name, m.message_id)
            for m, r in zip(messages, results, strict=True)
            if m.message_id not in again
        ]
        accepted = invocation.publish(finals)
        published = {e.request_id for e, ok in zip(finals, accepted, strict=True) if ok}
        # A message is done once a result of it is on the bus, never also delivered again: the
        # same message twice in a batch is one cancel asked twice.
        again |= {e.request_id for e in finals} - published
        # In batch order, each message id once (the same message may be delivered twice).
        failed = [i for i in dict.fromkeys(m.message_id for m in messages) if i in again]
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


CALLER = SqsCaller()
