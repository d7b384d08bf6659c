"""The local Runtime API speaks Lambda's protocol (checked here over HTTP without a runtime
process), the template is read as deployed, and the shared context counts down."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from local.lambda_context import ALIAS_ARN, LambdaContext
from local.lambda_runtime import PREFIX, RuntimeApi, template_properties


@pytest.fixture
def api() -> Iterator[RuntimeApi]:
    runtime_api = RuntimeApi()
    yield runtime_api
    runtime_api.close()


def call(api: RuntimeApi, method: str, path: str, body: Any = None) -> tuple[int, Any, Any]:
    """One request to the Runtime API: status, headers, parsed body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{api.address}{PREFIX}{path}", data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_next_hands_out_the_event_with_lambdas_headers(api: RuntimeApi) -> None:
    # Given an event offered with a 3 s timeout
    request_id = api.offer(b'{"cashout_id": 1}', 3)

    # When the runtime asks for the next invocation
    before = time.time()
    status, headers, event = call(api, "GET", "/invocation/next")

    # Then it gets the event, its request id, a deadline 3 s out and the alias ARN
    assert (status, event) == (200, {"cashout_id": 1})
    assert headers["Lambda-Runtime-Aws-Request-Id"] == request_id
    deadline_ms = int(headers["Lambda-Runtime-Deadline-Ms"])
    # The header is whole milliseconds, truncated: compare whole milliseconds.
    assert int(before * 1000) + 3000 <= deadline_ms <= time.time() * 1000 + 3000
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ALIAS_ARN
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")


def test_response_is_recorded_for_its_request_id_only(api: RuntimeApi) -> None:
    # Given an invocation handed out
    request_id = api.offer(b"{}", 3)
    call(api, "GET", "/invocation/next")

    # When the runtime answers another id, then the right one
    wrong = call(api, "POST", "/invocation/not-this-one/response", {"ok": False})
    right = call(api, "POST", f"/invocation/{request_id}/response", {"ok": True})

    # Then only the right answer is taken
    assert (wrong[0], wrong[2]["errorType"]) == (400, "InvalidRequestID")
    assert right[0] == 202
    answer = api.wait_answer(request_id, 1)
    assert answer is not None
    assert (answer.kind, answer.payload) == ("response", {"ok": True})


def test_answer_after_the_deadline_is_refused(api: RuntimeApi) -> None:
    # Given an invocation handed out with a 50 ms timeout
    request_id = api.offer(b"{}", 0.05)
    call(api, "GET", "/invocation/next")
    time.sleep(0.1)

    # When the runtime answers after its deadline
    status, _, error = call(api, "POST", f"/invocation/{request_id}/response", {"late": True})

    # Then the answer is refused: the invocation has timed out
    assert (status, error["errorType"]) == (400, "InvalidRequestID")
    assert api.overdue(request_id)
    assert api.wait_answer(request_id, 0) is None


def test_init_error_fails_the_waiting_invocation(api: RuntimeApi) -> None:
    # Given an invocation waiting for a runtime that cannot load the handler
    request_id = api.offer(b"{}", 3)
    error = {"errorType": "Runtime.ImportModuleError", "errorMessage": "x", "stackTrace": []}

    # When the runtime reports its init error
    status, _, _ = call(api, "POST", "/init/error", error)

    # Then the invocation fails with it, never handed out
    assert status == 202
    answer = api.wait_answer(request_id, 1)
    assert answer is not None
    assert (answer.kind, answer.error_type, answer.handed_out_at) == (
        "init_error",
        "Runtime.ImportModuleError",
        None,
    )


def test_next_waits_for_an_event(api: RuntimeApi) -> None:
    # Given a runtime already waiting on next
    got: list[Any] = []
    waiting = threading.Thread(target=lambda: got.append(call(api, "GET", "/invocation/next")))
    waiting.start()
    time.sleep(0.1)
    assert not got

    # When an event is offered, it is handed to the waiting runtime
    api.offer(b'{"n": 1}', 3)
    waiting.join(timeout=5)
    assert got[0][2] == {"n": 1}


def test_template_properties_are_read_as_deployed() -> None:
    properties = template_properties()

    assert properties["Handler"] == "cashout_cancel.handler.lambda_handler"
    assert (properties["Timeout"], properties["MemorySize"]) == (20, 512)
    assert properties["Runtime"] == "python3.13"


def test_lambda_context_counts_down_in_real_time() -> None:
    context = LambdaContext(remaining_ms=1000)

    time.sleep(0.05)

    assert 900 <= context.get_remaining_time_in_millis() <= 950
    assert context.invoked_function_arn.endswith(":function:cashout-cancel:live")
    assert (len(context.aws_request_id), context.aws_request_id[14]) == (36, "4")
    assert LambdaContext(remaining_ms=0).get_remaining_time_in_millis() == 0
