"""API Gateway specifics: both payload formats, base64 bodies, the catch-all route, stage
prefixes, routing answers, body limits and the proxy response shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox
from local.events import api_http_event, api_rest_event
from tests.conftest import Invoke, body_of

BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "rest-v1": api_rest_event,
    "http-v2": api_http_event,
}
pytestmark = pytest.mark.parametrize("build", list(BUILDERS.values()), ids=list(BUILDERS))


def test_base64_body_is_decoded(build: Any, invoke: Invoke, d24: D24Sandbox) -> None:
    response = invoke(build(1001, {"external_id": "ext-1001"}, base64=True))
    assert response["statusCode"] == 200
    assert body_of(response)["outcome"] == "CANCELLED"
    assert d24.status_of(1001) == CANCELLED


def test_catch_all_route_is_served(build: Any, invoke: Invoke, d24: D24Sandbox) -> None:
    response = invoke(build(1002, {"external_id": "ext-1002"}, catch_all=True))
    assert (response["statusCode"], body_of(response)["outcome"]) == (200, "CANCELLED")
    assert d24.status_of(1002) == CANCELLED


def test_stage_prefix_in_the_path_is_ignored(build: Any, invoke: Invoke) -> None:
    response = invoke(build(1003, {"external_id": "ext-1003"}, stage="prod", catch_all=True))
    assert (response["statusCode"], body_of(response)["outcome"]) == (200, "CANCELLED")


def test_proxy_response_is_json_with_correlation_id(build: Any, invoke: Invoke) -> None:
    response = invoke(build(1004, {"external_id": "ext-1004"}, request_id="req-abc"))
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["X-Correlation-Id"] == "req-abc"
    assert response["isBase64Encoded"] is False
    body = body_of(response)
    assert body["statusCode"] == response["statusCode"] == 200
    assert body["cashout_id"] == 1004


@pytest.mark.parametrize("path", ["/payouts", "/cashouts/1001", "/cashouts/1001/cancel/now", "/"])
def test_unknown_route_is_route_not_found(
    build: Any, invoke: Invoke, d24: D24Sandbox, path: str
) -> None:
    response = invoke(build(1001, {"external_id": "ext-1001"}, path=path, catch_all=True))
    assert (response["statusCode"], body_of(response)["outcome"]) == (404, "ROUTE_NOT_FOUND")
    assert d24.received() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_method_is_method_not_allowed(
    build: Any, invoke: Invoke, d24: D24Sandbox, method: str
) -> None:
    response = invoke(build(1001, {"external_id": "ext-1001"}, method=method))
    assert (response["statusCode"], body_of(response)["outcome"]) == (405, "METHOD_NOT_ALLOWED")
    assert response["headers"]["Allow"] == "POST"
    assert body_of(response)["cashout_id"] == 1001
    assert d24.received() == []


@pytest.mark.parametrize(
    ("body", "base64_flag", "named"),
    [
        (None, False, "external_id"),
        ("", False, "external_id"),
        ("not json", False, "body"),
        ("[1, 2]", False, "body"),
        ('"ext-1001"', False, "body"),
        ("{" * 5000, False, "body"),
        (json.dumps({"external_id": "x" * 9000}), False, "body"),
        ("%%%not-base64%%%", True, "body"),
        (base64.b64encode(b"\xff\xfe{}").decode(), True, "body"),
        (json.dumps({"external_id": "ext-1001", "cashout_id": 1002}), False, "cashout_id"),
    ],
)
def test_bad_bodies_are_invalid_requests_naming_the_problem(
    build: Any, invoke: Invoke, d24: D24Sandbox, body: str | None, base64_flag: bool, named: str
) -> None:
    event = build(1001, body)
    event["isBase64Encoded"] = base64_flag
    response = invoke(event)
    assert (response["statusCode"], body_of(response)["outcome"]) == (400, "INVALID_REQUEST")
    assert named in body_of(response)["message"]
    if named != "cashout_id":
        assert body_of(response)["cashout_id"] == 1001  # the path's id was valid
    assert d24.received() == []
    assert d24.status_of(1001) == PENDING


def test_body_repeating_the_path_cashout_id_is_accepted(build: Any, invoke: Invoke) -> None:
    response = invoke(build(1005, {"external_id": "ext-1005", "cashout_id": "1005"}))
    assert (response["statusCode"], body_of(response)["outcome"]) == (200, "CANCELLED")


@pytest.mark.parametrize("cashout_id", ["abc", "0", "-5", "1.0", "01", "9223372036854775808"])
def test_invalid_path_cashout_id_is_named(
    build: Any, invoke: Invoke, d24: D24Sandbox, cashout_id: str
) -> None:
    response = invoke(build(cashout_id, {"external_id": "ext-1001"}))
    assert (response["statusCode"], body_of(response)["outcome"]) == (400, "INVALID_REQUEST")
    assert "cashout_id" in body_of(response)["message"]
    assert "cashout_id" not in body_of(response)
    assert body_of(response)["external_id"] == "ext-1001"
    assert d24.received() == []


def test_trimmed_event_without_path_routes_from_resource_and_parameters(
    build: Any, invoke: Invoke, d24: D24Sandbox
) -> None:
    """A hand-built event (no concrete path, no request context) still routes."""
    event = build(1001, {"external_id": "ext-1001"})
    for key in ("path", "rawPath", "requestContext"):
        event.pop(key, None)
    response = invoke(event)
    assert (response["statusCode"], body_of(response)["outcome"]) == (200, "CANCELLED")
    assert d24.status_of(1001) == CANCELLED


def test_trimmed_catch_all_event_routes_from_the_proxy_parameter(
    build: Any, invoke: Invoke
) -> None:
    event = build(1002, {"external_id": "ext-1002"}, catch_all=True)
    for key in ("path", "rawPath"):
        event.pop(key, None)
    event.get("requestContext", {}).get("http", {}).pop("path", None)
    response = invoke(event)
    assert (response["statusCode"], body_of(response)["outcome"]) == (200, "CANCELLED")


@pytest.mark.parametrize("field", ["cashout_id", "external_id"])
def test_a_4400_digit_number_in_the_body_is_an_invalid_field_not_invalid_json(
    build: Any, invoke: Invoke, d24: D24Sandbox, field: str
) -> None:
    # Given a body whose field is a JSON integer longer than Python will parse (4,300 digits)
    huge = "9" * 4400
    fields = {"cashout_id": "1001", "external_id": '"ext-1001"', field: huge}
    text = f'{{"cashout_id": {fields["cashout_id"]}, "external_id": {fields["external_id"]}}}'

    # When it is sent
    response = invoke(build(1001, text))

    # Then it is refused naming that field, and nothing is sent
    answer = body_of(response)
    assert (response["statusCode"], answer["outcome"]) == (400, "INVALID_REQUEST")
    assert field in answer["message"]
    assert "not valid JSON" not in answer["message"]
    assert d24.received() == []


def test_an_api_event_without_top_level_method_is_still_answered_as_api_gateway(
    build: Any, invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given an API Gateway event trimmed of its top-level method, path and route keys
    event = build(1001, {"external_id": "ext-1001"})
    for key in ("httpMethod", "routeKey", "rawPath", "version"):
        event.pop(key, None)

    # When it is invoked
    response = invoke(event)

    # Then the answer is a proxy response API Gateway can return, not a bare result object
    assert isinstance(response.get("body"), str)
    assert response["headers"]["Content-Type"] == "application/json"
    assert body_of(response)["statusCode"] == response["statusCode"]
