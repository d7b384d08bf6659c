"""Caller adapters: each turns one kind of Lambda event into domain requests and their results
back into that caller's shape. Nothing deeper than this package knows who called; the work for
each request (deadline, cancel, result line, metrics, publishing) is the Invocation's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..cancel.outcomes import CancelResult, Outcome
from ..cancel.request import CancelRequest, InvalidRequest, parse_request

if TYPE_CHECKING:
    from ..invocation import Invocation


class Caller(Protocol):
    """One kind of caller: API Gateway, EventBridge, a direct invoke, or an SQS queue."""

    name: str
    publishes: bool  # whether its final results are put on the results bus (section 10)

    def serve(self, event: Any, invocation: Invocation) -> Any:
        """The answer to `event` in this caller's shape (may raise, for Lambda to retry)."""


def refusal(problem: InvalidRequest) -> CancelResult:
    """The 400 answer for an invalid request, echoing the fields that were valid."""
    return CancelResult(
        Outcome.INVALID_REQUEST,
        cashout_id=problem.cashout_id,
        external_id=problem.external_id,
        message=f"Invalid request: {problem.message}",
        merchant=problem.merchant,
    )


def validated(fields: dict[str, Any]) -> CancelRequest | CancelResult:
    """The request in `fields`, or the 400 that refuses it."""
    try:
        return parse_request(fields)
    except InvalidRequest as problem:
        return refusal(problem)


def recognise(event: Any) -> Caller:
    """The adapter for this event's caller, told apart by the keys each source always sends."""
    # Each adapter is imported when its first event comes: a container serves mostly one caller.
    if isinstance(event, dict):
        if "detail-type" in event and "detail" in event:
            from . import eventbridge

            return eventbridge.CALLER
        if "httpMethod" in event or "routeKey" in event or _api_request_context(event):
            from . import api_gateway

            return api_gateway.CALLER
        if "Records" in event:
            from . import sqs

            if sqs.is_sqs_event(event):
                return sqs.CALLER
    from . import direct

    return direct.CALLER


def _api_request_context(event: dict[str, Any]) -> bool:
    # A trimmed or hand-built API Gateway event may lack the top-level keys; its requestContext
    # still says where it came from. A direct payload has no requestContext.
    context = event.get("requestContext")
    return isinstance(context, dict) and any(
        key in context for key in ("httpMethod", "http", "routeKey", "resourcePath", "apiId")
    )
