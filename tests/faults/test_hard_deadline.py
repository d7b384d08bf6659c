"""The deadline is a hard bound (docs/contract.md section 5): whatever D24 or Secrets Manager do,
the function answers before the Lambda deadline less its margin. Socket timeouts bound each read,
not an attempt: these are the cases where that difference used to hold an invocation far past its
deadline (in Lambda, "Task timed out" and no answer at all)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox, Fault
from tests.conftest import Invoke, LambdaContext
from tests.integration.via import Answer, send

MARGIN = 0.2  # DEADLINE_MARGIN_MS in the test environment
SLACK = 0.15  # scheduling on a loaded two-core machine


@pytest.fixture
def production_timeouts(function_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's per-operation timeouts: 2 s to connect, 5 s per read."""
    monkeypatch.setenv("D24_CONNECT_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", "5")


def timed(invoke: Invoke, entry: str, remaining_ms: int) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = send(invoke, entry, 1001, "ext-1001", remaining_ms=remaining_ms)
    return answer, time.monotonic() - started


def assert_before_the_deadline(took: float, remaining_ms: int) -> None:
    assert took < remaining_ms / 1000 - MARGIN + SLACK, f"answered after {took:.2f} s"


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [
        Fault.drip(0.3, part="headers"),
        Fault.drip(0.3, part="body"),
        Fault.stall_after_headers(),
    ],
    ids=["headers-dripped", "body-dripped", "stalled-after-headers"],
)
def test_an_answer_trickling_in_is_cut_off_and_the_status_tells_the_truth_in_time(
    fault: Fault, invoke: Invoke, d24: D24Sandbox, production_timeouts: None
) -> None:
    # Given D24 applying the cancel and sending its answer a byte every 0.3 s (each read well
    # within the 5 s read timeout), with 3 s left in the invocation
    d24.inject(fault, times=3)

    # When a caller asks to cancel
    answer, took = timed(invoke, "direct", 3000)

    # Then the attempt is cut off, the status look-up runs in the time kept for it, and the
    # caller hears the truth before the deadline
    assert_before_the_deadline(took, 3000)
    assert d24.status_of(1001) == CANCELLED
    assert answer.body["outcome"] == "CANCELLED"


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["api-rest", "eventbridge", "direct"])
def test_d24_dripping_every_answer_is_a_timeout_before_the_deadline(
    entry: str, invoke: Invoke, d24: D24Sandbox, production_timeouts: None
) -> None:
    # Given a proxy in front of D24 dripping a 503 to every request, cancel and status alike
    d24.inject(Fault.drip(0.3, part="headers", apply=False), endpoint="any", times=20)

    # When a caller asks to cancel with 2.5 s left
    answer, took = timed(invoke, entry, 2500)

    # Then it is told "timeout" before the deadline (EventBridge: raised, to be retried)
    assert_before_the_deadline(took, 2500)
    assert (answer.status_code, answer.body["outcome"]) == (504, "UPSTREAM_TIMEOUT")
    assert (answer.raised is not None) == (entry == "eventbridge")
    assert d24.status_of(1001) == PENDING


# Secrets Manager: every read, the first and the re-read after a 401, is bounded by the time left.


@pytest.fixture
def stalling_secrets_manager(function_env: D24Sandbox) -> Iterator[threading.Event]:
    """Arm it (set the returned event's partner) to make every later GetSecretValue stall."""
    from cashout_cancel import container

    armed = threading.Event()
    released = threading.Event()

    def stall(**_: Any) -> None:
        if armed.is_set():
            released.wait(30)  # far past any deadline here; released when the test ends

    container.secrets_client().meta.events.register(
        "before-send.secrets-manager.GetSecretValue", stall
    )
    yield armed
    released.set()


@pytest.mark.slow
def test_a_secrets_manager_that_never_answers_costs_the_time_left_and_no_more(
    invoke: Invoke, stalling_secrets_manager: threading.Event
) -> None:
    # Given a cold function whose Secrets Manager accepts the call and never answers
    stalling_secrets_manager.set()

    # When a caller asks to cancel with 2.5 s left
    answer, took = timed(invoke, "direct", 2500)

    # Then it is told the secret could not be read, before the deadline
    assert_before_the_deadline(took, 2500)
    assert answer.body["outcome"] == "CONFIGURATION_ERROR"
    assert "in time" in answer.body["message"]


@pytest.mark.slow
def test_the_re_read_after_a_401_is_bounded_by_the_time_left(
    invoke: Invoke, d24: D24Sandbox, stalling_secrets_manager: threading.Event
) -> None:
    # Given a warm function, D24 rotated to a password it no longer holds, and Secrets Manager
    # stalling from now on
    assert send(invoke, "direct", 1005, "ext-1005").body["outcome"] == "CANCELLED"
    d24.set_credentials(password="rotated")
    stalling_secrets_manager.set()

    # When a caller asks to cancel with 2.5 s left (D24 answers 401, the secret is re-read)
    answer, took = timed(invoke, "direct", 2500)

    # Then the re-read gives up at the deadline and the caller is answered in time
    assert_before_the_deadline(took, 2500)
    assert answer.body["outcome"] == "CONFIGURATION_ERROR"
    assert d24.status_of(1001) == PENDING


def test_no_attempt_starts_after_the_deadline_has_passed(
    function_env: D24Sandbox, d24: D24Sandbox
) -> None:
    from cashout_cancel.handler import lambda_handler

    # Given an invocation with no time left at all
    context = LambdaContext(remaining_ms=0)

    # When it is handed a cancel
    result = lambda_handler({"cashout_id": 1001, "external_id": "ext-1001"}, context)

    # Then nothing is sent, and the answer says so
    assert (result["statusCode"], result["outcome"]) == (504, "UPSTREAM_TIMEOUT")
    assert "nothing was sent" in result["message"]
    assert d24.received() == []
