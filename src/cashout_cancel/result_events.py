"""Result events for the ledger (CONTRACT section 10): `Cashout Cancel Completed` on the results
bus, one per final result of an EventBridge or SQS cancel, put ten to a call.

A publish reports, entry by entry, what the bus accepted. What it did not accept is never
dropped: the caller hands the request back to its own retry (the EventBridge invocation raises,
the SQS message is a batch item failure), and the retry publishes its own result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .cancel.outcomes import CancelResult
from .deadline import MIN_ATTEMPT_SECONDS, Deadline, TimeLimitExceeded, run_within

SOURCE = "cashout-cancel"
DETAIL_TYPE = "Cashout Cancel Completed"
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit


@dataclass(frozen=True)
class ResultEvent:
    """One result to publish: the result object, who asked, and the id of their request."""

    result: CancelResult
    caller: str  # "eventbridge" or "sqs"
    request_id: str  # the EventBridge event id or the SQS message id

    def detail(self) -> dict[str, Any]:
        """The event's detail: the result object of section 4 plus caller and request_id."""
        return {**self.result.to_dict(), "caller": self.caller, "request_id": self.request_id}


class ResultPublisher:
    """Puts result events on one bus with one reused EventBridge client."""

    def __init__(self, client_factory: Callable[[], Any], bus: str | None) -> None:
        self._client_factory = client_factory
        self._bus = bus

    def publish(self, events: Sequence[ResultEvent], deadline: Deadline) -> list[bool]:
        """Put `events` on the bus; for each, True when the bus accepted it."""
        accepted: list[bool] = []
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            chunk = events[start : start + MAX_ENTRIES_PER_CALL]
            accepted += self._put(chunk, deadline)
        return accepted

    def _put(self, chunk: Sequence[ResultEvent], deadline: Deadline) -> list[bool]:
        if self._bus is None or deadline.remaining() < MIN_ATTEMPT_SECONDS:
            return [False] * len(chunk)
        entries = [
            {
                "Source": SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(event.detail()),
                "EventBusName": self._bus,
            }
            for event in chunk
        ]
        # Imported here: botocore is loaded with the client; paths that publish nothing never
        # pay for it.
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = run_within(
                deadline.remaining(), lambda: self._client_factory().put_events(Entries=entries)
            )
        except (TimeLimitExceeded, BotoCoreError, ClientError):
            return [False] * len(chunk)
        results = response.get("Entries") or []
        if len(results) != len(chunk):  # the bus answered something else: trust none of it
            return [False] * len(chunk)
        return [bool(entry.get("EventId")) and not entry.get("ErrorCode") for entry in results]
