"""API Gateway: REST (payload v1) and HTTP API (payload v2) proxy events, on the explicit route
`POST /cashouts/{cashout_id}/cancel` or behind a `/{proxy+}` catch-all."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from ..cancel.outcomes import CancelResult, Outcome
from ..cancel.request import (
    MAX_BODY_BYTES,
    CancelRequest,
    InvalidRequest,
    parse_cashout_id,
    parse_json_object,
    parse_request,
)
from . import refusal

if TYPE_CHECKING:
    from ..invocation import Invocation

# Matched at the end of the path so that a stage or base-path prefix does not matter.
_ROUTE = re.compile(r"(?:^|/)cashouts/([^/]+)/cancel/?\Z")
_TEMPLATE_PARAMETER = re.compile(r"\{([^{}+]+)\+?\}")
_METHOD = "POST"


class ApiGatewayCaller:
    """HTTP clients through API Gateway; both payload formats, plain or base64 bodies."""

    name = "api_gateway"
    publishes = False

    def serve(self, event: Any, invocation: Invocation) -> dict[str, Any]:
        """The proxy response to one HTTP request; the API request id correlates its logs."""
        context = event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        correlation_id = request_id if isinstance(request_id, str) else invocation.request_id
        result = invocation.run(self.to_request(event), correlation_id)
        return self.respond(result, correlation_id)

    def to_request(self, event: Any) -> CancelRequest | CancelResult:
        """Route, then validate path and body; nothing else in the event is trusted."""
        method, path = _method_and_path(event)
        match = _ROUTE.search(path) if isinstance(path, str) else None
        if match is None:
            return CancelResult(Outcome.ROUTE_NOT_FOUND)
        if not isinstance(method, str) or method.upper() != _METHOD:
            return CancelResult(Outcome.METHOD_NOT_ALLOWED, cashout_id=_id_or_none(match.group(1)))
        try:
            return _request(event, match.group(1))
        except InvalidRequest as problem:
            return refusal(problem)

    def respond(self, result: CancelResult, correlation_id: str) -> dict[str, Any]:
        """A proxy response: the status, JSON content type, the result as the body."""
        headers = {"Content-Type": "application/json", "X-Correlation-Id": correlation_id}
        if result.outcome is Outcome.METHOD_NOT_ALLOWED:
            headers["Allow"] = _METHOD
        return {
            "statusCode": result.status_code,
            "headers": headers,
            "body": json.dumps(result.to_dict()),
            "isBase64Encoded": False,
        }


def _method_and_path(event: dict[str, Any]) -> tuple[Any, Any]:
    """The method and the request path of a v1 or v2 event.

    Read with plain lookups rather than Powertools' data classes, whose properties raise KeyError
    on a missing key: a hand-built or trimmed event must still route (or be refused), not crash.
    Where the concrete path is missing, it is rebuilt from the route template and path parameters.
    """
    context = _mapping(event.get("requestContext"))
    parameters = event.get("pathParameters")
    if event.get("version") == "2.0" or "routeKey" in event:
        http = _mapping(context.get("http"))
        route_method, _, route_path = str(event.get("routeKey") or "").partition(" ")
        method = http.get("method") or route_method
        # rawPath keeps a stage prefix; the route regex ignores any prefix.
        path = event.get("rawPath") or http.get("path") or _expand(route_path, parameters)
        return method, path
    path = event.get("path") or _expand(event.get("resource"), parameters)
    return event.get("httpMethod") or context.get("httpMethod"), path


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _expand(template: Any, parameters: Any) -> str | None:
    """`/cashouts/{cashout_id}/cancel` or `/{proxy+}` with the event's path parameters filled in."""
    if not isinstance(template, str) or not isinstance(parameters, dict):
        return None

    def value(match: re.Match[str]) -> str:
        found = parameters.get(match.group(1))
        return found if isinstance(found, str) else match.group(0)

    return _TEMPLATE_PARAMETER.sub(value, template)


def _id_or_none(value: str) -> int | None:
    try:
        return parse_cashout_id(value)
    except ValueError:
        return None


def _request(event: dict[str, Any], path_cashout_id: str) -> CancelRequest:
    """The request from the path's cashout_id and the body's external_id."""
    try:
        fields = _body(event)
    except InvalidRequest as problem:
        # The path's id was valid even if the body is not: the answer echoes it.
        raise InvalidRequest(problem.message, cashout_id=_id_or_none(path_cashout_id)) from None
    if "cashout_id" in fields:
        # A body may repeat the id; it must then name the same cashout as the path.
        try:
            same = parse_cashout_id(fields["cashout_id"]) == parse_cashout_id(path_cashout_id)
        except ValueError:
            same = False
        if not same:
            raise InvalidRequest("cashout_id in the body does not match the path")
    return parse_request({**fields, "cashout_id": path_cashout_id})


def _body(event: dict[str, Any]) -> dict[str, Any]:
    body = event.get("body")
    if body is None or body == "":
        return {}
    if not isinstance(body, str):
        raise InvalidRequest("body must be a JSON object")
    if len(body) > MAX_BODY_BYTES * 2:  # cheap bound before decoding anything
        raise InvalidRequest(f"body is larger than {MAX_BODY_BYTES} bytes")
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("body is not valid base64") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    return parse_json_object(raw)


CALLER = ApiGatewayCaller()
