"""What waits in the failure queues, read back into cancel requests.

Three shapes reach them (docs/runbook.md):
- Lambda's on-failure destination record (FailureQueue): `requestContext` (`condition`:
  RetriesExhausted or EventAgeExceeded), `requestPayload` (the original event: an EventBridge
  event, or a direct object invoked asynchronously), `responseContext`, `responsePayload`;
- EventBridge's dead letter (FailureQueue): the event itself as the body, with the message
  attributes RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE (and, when retries ran out,
  EXHAUSTED_RETRY_CONDITION and RETRY_ATTEMPTS);
- a cancel message (CancelDeadLetterQueue): `{"cashout_id": ..., "external_id": "..."}`.
Each is validated with the function's own `parse_request`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops.function import DETAIL_TYPE, CancelRequest, InvalidRequest, parse_request
from ops.merchant import merchant_rule


@dataclass(frozen=True)
class Replayable:
    """A message that holds a valid cancel request, and where it came from."""

    request: CancelRequest
    origin: str
    merchant: str | None = None  # the account it named (None: the default one), kept on replay


@dataclass(frozen=True)
class Unreadable:
    """A message that cannot be replayed as it is, and why."""

    reason: str


def read_message(body: str, attributes: Mapping[str, Any]) -> Replayable | Unreadable:
    """The cancel request in one SQS message of a failure queue, or why there is none.

    `attributes` are the message's MessageAttributes as ReceiveMessage returns them.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return Unreadable("the body is not JSON")
    if not isinstance(document, dict):
        return Unreadable("the body is not a JSON object")
    if "requestContext" in document and "requestPayload" in document:
        condition = _text(document["requestContext"], "condition") or "no condition"
        return _from_payload(document["requestPayload"], f"Lambda on-failure record ({condition})")
    if "detail-type" in document:
        error = _attribute(attributes, "ERROR_CODE")
        origin = f"EventBridge dead letter ({error})" if error else "EventBridge event"
        return _from_event(document, origin)
    return _validated(document, "cancel message")


def _from_payload(payload: Any, origin: str) -> Replayable | Unreadable:
    """The original event of a destination record: an EventBridge event or a direct object."""
    if isinstance(payload, dict) and "detail-type" in payload:
        return _from_event(payload, origin)
    if isinstance(payload, dict):
        return _validated(payload, origin)
    return Unreadable(f"{origin}: the request payload is not a JSON object")


def _from_event(event: dict[str, Any], origin: str) -> Replayable | Unreadable:
    if event.get("detail-type") != DETAIL_TYPE:
        return Unreadable(f"{origin}: detail-type {event.get('detail-type')!r} is not a cancel")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return Unreadable(f"{origin}: the detail is not a JSON object")
    return _validated(detail, origin)


def _validated(fields: Mapping[str, Any], origin: str) -> Replayable | Unreadable:
    try:
        request = parse_request(fields)
    except InvalidRequest as problem:
        return Unreadable(f"{origin}: invalid request: {problem.message}")
    # A request for another account must be replayed for that account, never the default one.
    merchant = fields.get("merchant") or None
    if merchant is not None and not isinstance(merchant, str):
        return Unreadable(f"{origin}: invalid request: merchant must be a string")
    broken = merchant_rule(merchant) if merchant is not None else None
    if broken is not None:
        return Unreadable(f"{origin}: invalid request: merchant {broken}")
    return Replayable(request, origin, merchant)


def _text(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) else None


def _attribute(attributes: Mapping[str, Any], name: str) -> str | None:
    """A String message attribute's value (ReceiveMessage's {"StringValue": ...} shape)."""
    return _text(attributes.get(name), "StringValue")
