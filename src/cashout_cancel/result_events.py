"""Result events for the ledger (docs/contract.md section 10): `Cashout Cancel Completed` on the
results bus, one per final result of an EventBridge or SQS cancel.

Events are put in PutEvents requests bounded by EventBridge's limits: 10 entries, and 256 KiB of
entries (a larger request is refused whole). An entry too large to fit alone is published with
its long strings shortened, never dropped. The requests of one publish go out side by side, each
bounded by the deadline.

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
from .deadline import MIN_ATTEMPT_SECONDS, Deadline, TimeLimitExceeded, run_all_within

SOURCE = "cashout-cancel"
DETAIL_TYPE = "Cashout Cancel Completed"
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit
MAX_REQUEST_BYTES = 256 * 1024  # PutEvents' limit on the entries of one request
_TIME_BYTES = 14  # what EventBridge counts for an entry's Time
# An entry too large alone has every string in its detail cut to this many characters: its
# identifiers (external_id, request_id, outcome...) are shorter and stay whole, and the detail's
# dozen strings then weigh a few kilobytes at most, however JSON escapes them.
SHORTENED_CHARS = 128

Entry = dict[str, Any]


@dataclass(frozen=True)
class ResultEvent:
    """One result to publish: the result object, who asked, and the id of their request."""

    result: CancelResult
    caller: str  # "eventbridge" or "sqs"
    request_id: str  # the EventBridge event id or the SQS message id

    def detail(self) -> dict[str, Any]:
        """The event's detail: the result object of section 4 plus caller and request_id."""
        return {**self.result.to_dict(), "caller": self.caller, "request_id": self.request_id}


def entry_size(entry: Entry) -> int:
    """The bytes EventBridge counts for one PutEvents entry: Time (14 bytes when given), and the
    UTF-8 of Source, DetailType, Detail and each resource; EventBusName is counted too, to err
    on the side of a request the bus accepts."""
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail", "EventBusName"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources") or ())


class ResultPublisher:
    """Puts result events on one bus with one reused EventBridge client."""

    def __init__(self, client_factory: Callable[[], Any], bus: str | None) -> None:
        self._client_factory = client_factory
        self._bus = bus

    def publish(self, events: Sequence[ResultEvent], deadline: Deadline) -> list[bool]:
        """Put `events` on the bus; for each, True when the bus accepted it."""
        accepted = [False] * len(events)
        if not events or self._bus is None or deadline.remaining() < MIN_ATTEMPT_SECONDS:
            return accepted
        entries = [self._entry(event) for event in events]
        requests = _requests([entry_size(entry) for entry in entries])
        answers = run_all_within(
            deadline.remaining(),
            [self._put_events([entries[i] for i in request]) for request in requests],
        )
        # Imported here: botocore is loaded with the client; paths that publish nothing never
        # pay for it.
        from botocore.exceptions import BotoCoreError, ClientError

        for request, answer in zip(requests, answers, strict=True):
            if isinstance(answer, Exception) and not isinstance(
                answer, (TimeLimitExceeded, BotoCoreError, ClientError)
            ):
                raise answer  # a bug, not the bus refusing: not to be mistaken for a refusal
            for position, ok in zip(request, _accepted(answer, len(request)), strict=True):
                accepted[position] = ok
        return accepted

    def _entry(self, event: ResultEvent) -> Entry:
        """The PutEvents entry of `event`, its strings shortened if it cannot fit a request."""
        entry = self._entry_of(event.detail())
        if entry_size(entry) > MAX_REQUEST_BYTES:
            entry = self._entry_of(_shortened(event.detail()))
        return entry

    def _entry_of(self, detail: dict[str, Any]) -> Entry:
        return {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(detail),
            "EventBusName": self._bus,
        }

    def _put_events(self, entries: list[Entry]) -> Callable[[], Any]:
        return lambda: self._client_factory().put_events(Entries=entries)


def _requests(sizes: Sequence[int]) -> list[list[int]]:
    """The entries' positions grouped into requests within both PutEvents limits, in order."""
    requests: list[list[int]] = []
    total = 0
    for position, size in enumerate(sizes):
        full = not requests or len(requests[-1]) == MAX_ENTRIES_PER_CALL
        if full or total + size > MAX_REQUEST_BYTES:
            requests.append([])
            total = 0
        requests[-1].append(position)
        total += size
    return requests


def _accepted(answer: Any, count: int) -> list[bool]:
    """Which of the request's `count` entries the bus accepted: none when the call failed (the
    bus refused it, or did not answer in time) or answered something else than one result
    each."""
    results = answer.get("Entries") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != count:
        return [False] * count
    return [bool(entry.get("EventId")) and not entry.get("ErrorCode") for entry in results]


def _shortened(value: Any) -> Any:
    """`value` with every string in it cut to SHORTENED_CHARS characters."""
    if isinstance(value, str):
        return value[:SHORTENED_CHARS]
    if isinstance(value, dict):
        return {key: _shortened(item) for key, item in value.items()}
    return value
