"""The deadline: the function obeys the one the Runtime API hands it, and an invocation that
overruns its timeout is stopped as Lambda stops it, in a process that is then replaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local.d24_sandbox import D24Sandbox, Fault
from local.events import load_event
from tests.runtime.conftest import StartFunction, task_root

FUNCTION_TIMEOUT_S = 3


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "read_timeout"),
    [(Fault.hang(), "0.5"), (Fault.delay(30), "5")],
    ids=["hanging-d24-short-read-timeout", "slow-d24-template-read-timeout"],
)
def test_function_answers_before_the_deadline_the_runtime_api_handed_it(
    sandbox: D24Sandbox,
    environment: dict[str, str],
    start_function: StartFunction,
    fault: Fault,
    read_timeout: str,
) -> None:
    # Given a D24 that answers nothing in time, and a function timeout of a few seconds
    sandbox.inject(fault, endpoint="any", times=100)
    function = start_function(
        {**environment, "D24_TIMEOUT_SECONDS": read_timeout}, timeout_seconds=FUNCTION_TIMEOUT_S
    )

    # When a cancel arrives
    answer = function.invoke(load_event("direct-cancel"))

    # Then the deadline handed out is the function's timeout after the hand-out...
    assert answer.deadline_ms is not None
    assert answer.handed_out_at is not None
    handed_out_ms = answer.handed_out_at * 1000
    assert answer.deadline_ms - handed_out_ms == pytest.approx(FUNCTION_TIMEOUT_S * 1000, abs=2)
    # ...and the function's own answer (not Lambda's timeout) arrived before it, margin kept
    assert answer.kind == "response", answer.payload
    assert (answer.payload["statusCode"], answer.payload["outcome"]) == (504, "UPSTREAM_TIMEOUT")
    assert answer.answered_at * 1000 < answer.deadline_ms - 100


SLEEPER = """
import os
import time


def handler(event, context):
    time.sleep(event["sleep"])
    return {"pid": os.getpid()}
"""


@pytest.mark.slow
def test_handler_that_overruns_is_timed_out_and_its_process_replaced(
    artifact: Path, tmp_path: Path, start_function: StartFunction
) -> None:
    # Given a handler that sleeps past a 1 s timeout when asked to
    root = task_root(artifact, tmp_path / "task", add={"sleeper.py": SLEEPER})
    function = start_function({}, task_root=root, handler="sleeper.handler", timeout_seconds=1)
    first = function.invoke({"sleep": 0})

    # When an invocation overruns
    overran = function.invoke({"sleep": 30})

    # Then it is recorded as Lambda records a timeout, at the timeout
    assert overran.kind == "timeout"
    assert overran.payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {overran.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert overran.duration_ms is not None
    assert 1000 <= overran.duration_ms < 1500
    # ...its process is gone, and the next invocation runs in a new one
    with pytest.raises(ProcessLookupError):
        os.kill(first.payload["pid"], 0)
    after = function.invoke({"sleep": 0})
    assert after.kind == "response"
    assert after.payload["pid"] != first.payload["pid"]
    assert function.processes_started == 2
