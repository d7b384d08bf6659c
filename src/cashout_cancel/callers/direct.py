"""Direct Lambda invokes: the plain object {"cashout_id": ..., "external_id": ...}."""

from __future__ import annotations

from typing import Any

from ..outcomes import CancelResult
from ..validation import CancelRequest, InvalidRequest
from . import refusal, validated


class DirectCaller:
    """Another Lambda (or a script) invoking the function with the request itself."""

    name = "direct"

    def correlation_id(self, event: Any) -> str | None:
        """Direct payloads carry no id of their own: the Lambda request id is used."""
        return None

    def to_request(self, event: Any) -> CancelRequest | CancelResult:
        """Validate the payload; anything but a JSON object is refused."""
        if not isinstance(event, dict):
            return refusal(
                InvalidRequest("the event must be a JSON object with cashout_id and external_id")
            )
        return validated(event)

    def respond(self, result: CancelResult, correlation_id: str | None) -> dict[str, Any]:
        """The result object, statusCode included."""
        return result.to_dict()


CALLER = DirectCaller()
