"""EventBridge rules: `Cashout Cancel Requested` events whose detail is the request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..cancel.outcomes import CancelResult
from ..cancel.request import CancelRequest, InvalidRequest
from ..result_events import ResultEvent
from . import refusal, validated

if TYPE_CHECKING:
    from ..invocation import Invocation

DETAIL_TYPE = "Cashout Cancel Requested"


class RetryableFailure(Exception):
    """Raised for a result >= 500, or a result that could not be published, so that Lambda
    retries the event and, in the end, sends it to the on-failure destination. It carries the
    outcome and the correlation id, never the request."""

    def __init__(
        self, status_code: int, outcome: str, correlation_id: str | None, published: bool = True
    ):
        what = f"cancel failed with {status_code} {outcome}"
        if not published:
            what = f"the result ({status_code} {outcome}) could not be published"
        super().__init__(
            f"{what} (correlation id {correlation_id}); raised so that the event is retried"
        )
        self.status_code = status_code
        self.outcome = outcome
        self.published = published


class EventBridgeCaller:
    """An event-driven cancel. Nobody waits for its answer: a final result is published for the
    ledger (docs/contract.md section 10); a result >= 500, or one that could not be published,
    raises so that Lambda retries the event and, in the end, puts it on the failure queue."""

    name = "eventbridge"
    publishes = True

    def serve(self, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
        """The result object, once published; the event id correlates its logs."""
        event_id = event.get("id")
        request_id = event_id if isinstance(event_id, str) else invocation.request_id
        result = invocation.run(to_request(event), request_id)
        if result.status_code >= 500:
            raise RetryableFailure(result.status_code, result.outcome.value, request_id)
        # Only our own detail-type is published: a rule that also forwards the function's
        # result events must not make a loop of refusals.
        ours = event.get("detail-type") == DETAIL_TYPE
        if ours and not invocation.publish([ResultEvent(result, self.name, request_id)])[0]:
            raise RetryableFailure(
                result.status_code, result.outcome.value, request_id, published=False
            )
        return result.to_dict()


def to_request(event: dict[str, Any]) -> CancelRequest | CancelResult:
    """Accept only our detail-type; validate the detail."""
    # Two keys read directly: Powertools' EventBridgeEvent would do the same, but importing its
    # data_classes package (every event source's class) costs ~12 ms of cold start.
    if event.get("detail-type") != DETAIL_TYPE:
        # A rule that forwards too much must not cancel anything.
        return refusal(InvalidRequest(f"detail-type must be '{DETAIL_TYPE}'"))
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return refusal(
            InvalidRequest("detail must be a JSON object with cashout_id and external_id")
        )
    return validated(detail)


CALLER = EventBridgeCaller()
