"""Send one cancel through any of the four entries and read the answer the same way for all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cashout_cancel.callers.eventbridge import RetryableFailure
from local.events import api_http_event, api_rest_event, direct_event, eventbridge_event

ENTRIES = ("api-rest", "api-http", "eventbridge", "direct")


@dataclass
class Answer:
    """What a caller saw: the status code, the result fields, and whether the handler raised."""

    status_code: int
    body: dict[str, Any]
    raised: RetryableFailure | None = None


def event_for(entry: str, cashout_id: Any, external_id: Any) -> Any:
    """The event with which `entry` asks to cancel `cashout_id`."""
    if entry == "api-rest":
        return api_rest_event(cashout_id, {"external_id": external_id})
    if entry == "api-http":
        return api_http_event(cashout_id, {"external_id": external_id})
    if entry == "eventbridge":
        return eventbridge_event({"cashout_id": cashout_id, "external_id": external_id})
    return direct_event(cashout_id, external_id)


def answer_of(response: Any) -> Answer:
    """Read a handler response: a proxy response or a result object."""
    if isinstance(response, dict) and "headers" in response and "body" in response:
        assert response["headers"]["Content-Type"] == "application/json"
        return Answer(response["statusCode"], json.loads(response["body"]))
    return Answer(response["statusCode"], response)


def send(invoke: Any, entry: str, cashout_id: Any, external_id: Any, **kwargs: Any) -> Answer:
    """Cancel through `entry`; an EventBridge failure is caught and reported as raised."""
    try:
        return answer_of(invoke(event_for(entry, cashout_id, external_id), **kwargs))
    except RetryableFailure as failure:
        return Answer(failure.status_code, {"outcome": failure.outcome}, raised=failure)
