"""Putting cancel requests back on an event bus as "Cashout Cancel Requested" events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ops.batches import BatchCall, Entry, Refused
from ops.function import DETAIL_TYPE
from ops.retrying import THROTTLING_CODES
from ops.sqs import reason

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

# The rule matches the detail-type only; this source tells a replayed request from the original.
REPLAY_SOURCE = "cashout-cancel.replay"
# Per-entry error codes of PutEvents that a later attempt may not meet again.
_RETRYABLE_ENTRY_CODES = THROTTLING_CODES | {"InternalFailure", "InternalException"}


def put_batch(client: EventBridgeClient, bus: str) -> BatchCall:
    """PutEvents of each entry's body as the detail of a cancel request on `bus`."""

    def call(entries: Sequence[Entry]) -> tuple[list[str], dict[str, Refused]]:
        answer = client.put_events(
            Entries=[
                {
                    "EventBusName": bus,
                    "Source": REPLAY_SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": entry.body,
                }
                for entry in entries
            ]
        )
        taken, refused = [], {}
        # PutEvents answers entry by entry, in the order they were sent.
        for entry, result in zip(entries, answer["Entries"], strict=True):
            code = result.get("ErrorCode")
            if code is None and result.get("EventId"):
                taken.append(entry.id)
            else:
                why = reason(code, result.get("ErrorMessage"))
                refused[entry.id] = Refused(why, code in _RETRYABLE_ENTRY_CODES)
        return taken, refused

    return call
