"""Direct Lambda invokes: the plain object {"cashout_id": ..., "external_id": ...}."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..cancel.outcomes import CancelResult
from ..cancel.request import CancelRequest, InvalidRequest
from . import refusal, validated

if TYPE_CHECKING:
    from ..invocation import Invocation


class DirectCaller:
    """Another Lambda (or a script) invoking the function with the request itself."""

    name = "direct"
    publishes = False

    def serve(self, event: Any, invocation: Invocation) -> dict[str, Any]:
        """The result object, statusCode included; the Lambda request id correlates its logs."""
        return invocation.run(to_request(event), invocation.request_id).to_dict()


def to_request(payload: Any) -> CancelRequest | CancelResult:
    """Validate a direct-invoke object; anything but a JSON object is refused."""
    if not isinstance(payload, dict):
        return refusal(
            InvalidRequest("the event must be a JSON object with cashout_id and external_id")
        )
    return validated(payload)


CALLER = DirectCaller()
