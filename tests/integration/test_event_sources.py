"""EventBridge and direct-invoke specifics: refused detail-types, malformed payloads, raising."""

from __future__ import annotations

from typing import Any

import pytest

from cashout_cancel.callers.eventbridge import RetryableFailure
from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox, Fault
from local.events import eventbridge_event
from tests.conftest import Invoke


def test_other_detail_type_is_refused_and_nothing_is_sent(invoke: Invoke, d24: D24Sandbox) -> None:
    event = eventbridge_event({"cashout_id": 1001, "external_id": "ext-1001"}, "Cashout Created")
    result = invoke(event)
    assert (result["statusCode"], result["outcome"]) == (400, "INVALID_REQUEST")
    assert "detail-type" in result["message"]
    assert d24.received() == []
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("detail", [None, "1001", [1001], 42])
def test_detail_that_is_not_an_object_is_refused(
    invoke: Invoke, d24: D24Sandbox, detail: Any
) -> None:
    result = invoke(eventbridge_event(detail))
    assert (result["statusCode"], result["outcome"]) == (400, "INVALID_REQUEST")
    assert "detail" in result["message"]
    assert d24.received() == []


def test_eventbridge_failure_raises_with_outcome_and_correlation_id(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.inject(Fault.status(500), times=3)
    with pytest.raises(RetryableFailure) as raised:
        invoke(eventbridge_event({"cashout_id": 1001, "external_id": "ext-1001"}, event_id="ev-9"))
    assert raised.value.status_code == 502
    assert raised.value.outcome == "UPSTREAM_UNAVAILABLE"
    assert "ev-9" in str(raised.value)


def test_eventbridge_retry_after_a_failure_cancels(invoke: Invoke, d24: D24Sandbox) -> None:
    """Lambda's asynchronous retry of a raised event succeeds once D24 is back."""
    event = eventbridge_event({"cashout_id": 1001, "external_id": "ext-1001"})
    d24.inject(Fault.status(503), times=3)
    with pytest.raises(RetryableFailure):
        invoke(event)
    result = invoke(event)
    assert (result["statusCode"], result["outcome"]) == (200, "CANCELLED")
    assert d24.status_of(1001) == CANCELLED


@pytest.mark.parametrize("payload", [None, [], "1001", 1001, ["cashout_id", "external_id"]])
def test_direct_payload_that_is_not_an_object_is_refused(
    invoke: Invoke, d24: D24Sandbox, payload: Any
) -> None:
    result = invoke(payload)
    assert (result["statusCode"], result["outcome"]) == (400, "INVALID_REQUEST")
    assert d24.received() == []


def test_direct_payload_with_extra_fields_is_accepted(invoke: Invoke, d24: D24Sandbox) -> None:
    result = invoke({"cashout_id": 1001, "external_id": "ext-1001", "reason": "customer asked"})
    assert (result["statusCode"], result["outcome"]) == (200, "CANCELLED")


def test_handler_works_without_a_lambda_context(function_env: D24Sandbox) -> None:
    from cashout_cancel.handler import lambda_handler

    result = lambda_handler({"cashout_id": 1001, "external_id": "ext-1001"}, None)
    assert (result["statusCode"], result["outcome"]) == (200, "CANCELLED")
