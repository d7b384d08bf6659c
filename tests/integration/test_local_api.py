"""`make api`: real HTTP in, the REST API event the template deploys to the real handler, its
answer back as HTTP; against the D24 sandbox and Secrets Manager from moto."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from local.api import LocalApi
from local.d24_sandbox import CANCELLED, D24Sandbox
from local.function import local_function


@pytest.fixture
def client() -> Iterator[requests.Session]:
    """An HTTP client that ignores proxy settings of the environment."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


@pytest.fixture
def api(function_env: D24Sandbox) -> Iterator[LocalApi]:
    """The local API in front of the real handler, over the test's sandbox and moto secret."""
    from cashout_cancel.handler import lambda_handler

    with LocalApi(lambda_handler) as local_api:
        yield local_api


class Recorder:
    """A stand-in handler that keeps each event and context and answers 200."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[dict[str, Any], Any, int]] = []
        self.delay = delay
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        time.sleep(self.delay)
        with self._lock:
            self.running -= 1
            self.calls.append((event, context, context.get_remaining_time_in_millis()))
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


def post(url: str, **kwargs: Any) -> requests.Response:
    """One POST on its own connection, ignoring proxy settings (safe from many threads)."""
    with requests.Session() as session:
        session.trust_env = False
        return session.post(url, timeout=30, **kwargs)


def cancel(client: requests.Session, api: LocalApi, cashout_id: Any, **kwargs: Any) -> Any:
    """POST /cashouts/{cashout_id}/cancel."""
    return client.post(f"{api.url}/cashouts/{cashout_id}/cancel", timeout=30, **kwargs)


# The real handler


def test_make_api_defaults_cancel_a_seeded_sandbox_cashout(client: requests.Session) -> None:
    # Given `make api` as started by default: the local function with its own sandbox and moto
    with local_function() as function, LocalApi(function.handler) as api:
        # When a pending seeded cashout is cancelled, as the README's curl does
        response = cancel(client, api, 1001, json={"external_id": "ext-1001"})
        # Then the answer is 200 CANCELLED and the sandbox holds it cancelled
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["outcome"] == "CANCELLED"
        assert function.sandbox.status_of(1001) == CANCELLED


def test_cancel_through_http_cancels_at_d24(
    client: requests.Session, api: LocalApi, function_env: D24Sandbox
) -> None:
    # Given a pending sandbox cashout
    # When it is cancelled over HTTP
    response = cancel(client, api, 1002, json={"external_id": "ext-1002"})
    # Then D24 has it cancelled and the answer says so, with the request id as correlation id
    assert response.status_code == 200
    assert response.json() == {
        "statusCode": 200,
        "outcome": "CANCELLED",
        "cashout_id": 1002,
        "external_id": "ext-1002",
        "cashout_status": CANCELLED,
        "cashout_status_description": "Canceled",
    }
    assert function_env.status_of(1002) == CANCELLED
    assert response.headers["X-Correlation-Id"] == response.headers["x-amzn-RequestId"]


def test_a_binary_content_type_arrives_base64_encoded_and_still_cancels(
    client: requests.Session, api: LocalApi, function_env: D24Sandbox
) -> None:
    # Given a body sent as application/octet-stream (base64 in the event)
    body = json.dumps({"external_id": "ext-1003"}).encode()
    # When it is posted
    response = cancel(
        client, api, 1003, data=body, headers={"Content-Type": "application/octet-stream"}
    )
    # Then the handler decoded it and cancelled
    assert response.json()["outcome"] == "CANCELLED"
    assert function_env.status_of(1003) == CANCELLED


def test_unknown_path_is_404_route_not_found(client: requests.Session, api: LocalApi) -> None:
    # When a path that is not the route is called
    response = client.post(f"{api.url}/cashouts/1001/refund", json={}, timeout=10)
    # Then the function answers 404 ROUTE_NOT_FOUND
    assert response.status_code == 404
    assert response.json()["outcome"] == "ROUTE_NOT_FOUND"


def test_wrong_method_is_405_with_allow_header(client: requests.Session, api: LocalApi) -> None:
    # When the route is called with GET
    response = client.get(f"{api.url}/cashouts/1001/cancel", timeout=10)
    # Then the function answers 405 METHOD_NOT_ALLOWED and says which method to use
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["outcome"] == "METHOD_NOT_ALLOWED"


def test_invalid_request_is_400_and_nothing_reaches_d24(
    client: requests.Session, api: LocalApi, function_env: D24Sandbox
) -> None:
    # When the body lacks external_id and the id has a leading zero
    response = cancel(client, api, "01001", json={})
    # Then the answer is 400 INVALID_REQUEST naming the fields, and D24 saw nothing
    assert response.status_code == 400
    body = response.json()
    assert body["outcome"] == "INVALID_REQUEST"
    assert "cashout_id" in body["message"]
    assert "external_id" in body["message"]
    assert function_env.received() == []


# In parallel one invocation can flush another's metrics (README, local API); answers hold.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("serialise", [True, False], ids=["serialised", "parallel"])
def test_20_concurrent_cancels_of_distinct_cashouts_are_all_correct(
    client: requests.Session, function_env: D24Sandbox, serialise: bool
) -> None:
    # Given 20 pending cashouts
    ids = list(range(70001, 70021))
    for cashout_id in ids:
        function_env.add_cashout(cashout_id, f"ext-{cashout_id}")
    from cashout_cancel.handler import lambda_handler

    with LocalApi(lambda_handler, serialise=serialise) as api:
        # When all 20 are cancelled at the same time, each on its own connection
        def one(cashout_id: int) -> tuple[int, Any]:
            response = post(
                f"{api.url}/cashouts/{cashout_id}/cancel",
                json={"external_id": f"ext-{cashout_id}"},
            )
            return response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(one, ids))
    # Then each answer is its own cashout's CANCELLED, and D24 cancelled each exactly once
    assert [(status, body["outcome"], body["cashout_id"]) for status, body in answers] == [
        (200, "CANCELLED", cashout_id) for cashout_id in ids
    ]
    assert all(function_env.status_of(cashout_id) == CANCELLED for cashout_id in ids)
    sent = sorted(request.json()["cashout_id"] for request in function_env.received("cancel"))
    assert sent == ids


# The conversion, seen by a stand-in handler


def test_request_becomes_the_rest_api_event_of_the_template(client: requests.Session) -> None:
    # Given the local API in front of a recording handler
    recorder = Recorder()
    with LocalApi(recorder) as api:
        # When a request with repeated headers and a query string arrives
        connection = http.client.HTTPConnection("127.0.0.1", api.server_port)
        connection.putrequest("POST", "/cashouts/42/cancel?a=1&a=2")
        for name, value in [
            ("Content-Type", "application/json"),
            ("X-Twice", "1"),
            ("X-Twice", "2"),
        ]:
            connection.putheader(name, value)
        connection.putheader("Content-Length", "19")
        connection.endheaders(b'{"external_id":"x"}')
        assert connection.getresponse().status == 200
        connection.close()
        client.post(f"{api.url}/somewhere/else", timeout=10)
    # Then the handler got API Gateway's REST (v1) proxy event for the deployed route
    event, _, _ = recorder.calls[0]
    assert event["resource"] == "/cashouts/{cashout_id}/cancel"
    assert event["path"] == "/cashouts/42/cancel"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"cashout_id": "42"}
    assert event["headers"]["X-Twice"] == "2"
    assert event["multiValueHeaders"]["X-Twice"] == ["1", "2"]
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["body"] == '{"external_id":"x"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1"
    assert context["path"] == "/v1/cashouts/42/cancel"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert len(context["requestId"]) == 36
    # And any other path through the catch-all, without a body
    other, _, _ = recorder.calls[1]
    assert other["resource"] == "/{proxy+}"
    assert other["pathParameters"] == {"proxy": "somewhere/else"}
    assert other["body"] is None


def test_binary_bodies_are_base64_encoded_in_the_event(client: requests.Session) -> None:
    recorder = Recorder()
    with LocalApi(recorder) as api:
        # When a binary body arrives
        client.post(
            f"{api.url}/cashouts/1/cancel",
            data=b"\xff\x00",
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
    # Then it is base64 in the event
    event, _, _ = recorder.calls[0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"


def test_each_request_gets_a_fresh_context_counting_down_from_20_seconds(
    client: requests.Session,
) -> None:
    recorder = Recorder()
    with LocalApi(recorder) as api:
        # When two requests arrive
        for _ in range(2):
            client.post(f"{api.url}/cashouts/1/cancel", timeout=10)
    # Then each has its own request id and nearly the template's 20 s left
    (_, first, first_left), (_, second, second_left) = recorder.calls
    assert first.aws_request_id != second.aws_request_id
    assert 19_000 < first_left <= 20_000
    assert 19_000 < second_left <= 20_000


def test_a_failing_handler_is_answered_502_as_api_gateway_does(client: requests.Session) -> None:
    # Given a handler that raises
    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    with LocalApi(broken) as api:
        # When a request arrives
        response = client.post(f"{api.url}/cashouts/1/cancel", timeout=10)
    # Then API Gateway's own 502 answer comes back
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


@pytest.mark.slow
@pytest.mark.parametrize("serialise", [True, False], ids=["serialised", "parallel"])
def test_invocations_overlap_only_when_not_serialised(serialise: bool) -> None:
    # Given a handler that takes a while
    recorder = Recorder(delay=0.2)
    local_api = LocalApi(recorder, serialise=serialise)
    # When five requests arrive together
    with local_api as api, ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda _: post(f"{api.url}/x"), range(5)))
    # Then one container runs one invocation at a time, unless told otherwise
    assert len(recorder.calls) == 5
    assert (recorder.most_running == 1) is serialise
