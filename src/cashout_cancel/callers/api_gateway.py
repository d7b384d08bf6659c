"""API Gateway: REST (payload v1) and HTTP API (payload v2) proxy events, on the explicit route
`POST /cashouts/{cashout_id}/cancel` or behind a `/{proxy+}` catch-all."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.utilities.data_classes import (
    APIGatewayProxyEvent,
    APIGatewayProxyEventV2,
)

from ..outcomes import CancelResult, Outcome
from ..validation import CancelRequest, InvalidRequest, parse_cashout_id, parse_request
from . import refusal

MAX_BODY_BYTES = 8192
# Matched at the end of the path so that a stage or base-path prefix does not matter.
_ROUTE = re.compile(r"(?:^|/)cashouts/([^/]+)/cancel/?\Z")
_METHOD = "POST"


class ApiGatewayCaller:
    """HTTP clients through API Gateway; both payload formats, plain or base64 bodies."""

    name = "api_gateway"

    def correlation_id(self, event: Any) -> str | None:
        """The API Gateway request id."""
        context = event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        return request_id if isinstance(request_id, str) else None

    def to_request(self, event: Any) -> CancelRequest | CancelResult:
        """Route, then validate path and body; nothing else in the event is trusted."""
        try:
            method, path = _method_and_path(event)
        except (KeyError, TypeError, AttributeError):
            return refusal(InvalidRequest("the API Gateway event lacks its method or path"))
        match = _ROUTE.search(path) if isinstance(path, str) else None
        if match is None:
            return CancelResult(Outcome.ROUTE_NOT_FOUND)
        if not isinstance(method, str) or method.upper() != _METHOD:
            return CancelResult(Outcome.METHOD_NOT_ALLOWED, cashout_id=_id_or_none(match.group(1)))
        try:
            return _request(event, match.group(1))
        except InvalidRequest as problem:
            return refusal(problem)

    def respond(self, result: CancelResult, correlation_id: str | None) -> dict[str, Any]:
        """A proxy response: the status, JSON content type, the result as the body."""
        headers = {"Content-Type": "application/json"}
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        if result.outcome is Outcome.METHOD_NOT_ALLOWED:
            headers["Allow"] = _METHOD
        return {
            "statusCode": result.status_code,
            "headers": headers,
            "body": json.dumps(result.to_dict()),
            "isBase64Encoded": False,
        }


def _method_and_path(event: dict[str, Any]) -> tuple[Any, Any]:
    if event.get("version") == "2.0" or "routeKey" in event:
        v2 = APIGatewayProxyEventV2(event)
        # rawPath keeps a stage prefix; the route regex ignores any prefix.
        return v2.http_method, v2.raw_path
    v1 = APIGatewayProxyEvent(event)
    return v1.http_method, v1.path


def _id_or_none(value: str) -> int | None:
    try:
        return parse_cashout_id(value)
    except ValueError:
        return None


def _request(event: dict[str, Any], path_cashout_id: str) -> CancelRequest:
    """The request from the path's cashout_id and the body's external_id."""
    fields = _body(event)
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
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        fields = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest("body is not valid JSON") from None
    if not isinstance(fields, dict):
        raise InvalidRequest("body must be a JSON object")
    return fields


CALLER = ApiGatewayCaller()
