"""Every row of docs/contract.md section 4, through the real handler, for every caller.

D24 is the local sandbox on a real socket; Secrets Manager is moto. Each test reads:
given a cashout in some state (and maybe a D24 fault), when a caller asks to cancel it,
then the caller sees the contract's statusCode and outcome, and D24 ends in the right state.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.d24_sandbox import CANCELLED, COMPLETED, PENDING, D24Sandbox, Fault
from tests.conftest import SECRET_ID, Invoke
from tests.integration.via import ENTRIES, Answer, send

pytestmark = pytest.mark.parametrize("entry", ENTRIES)


def assert_returned(answer: Answer, status_code: int, outcome: str) -> None:
    assert (answer.status_code, answer.body["outcome"]) == (status_code, outcome)
    assert answer.raised is None
    assert answer.body["statusCode"] == status_code


def assert_failed(entry: str, answer: Answer, status_code: int, outcome: str) -> None:
    """A >= 500 result: returned to API and direct callers, raised for EventBridge."""
    assert (answer.status_code, answer.body["outcome"]) == (status_code, outcome)
    if entry == "eventbridge":
        assert answer.raised is not None
    else:
        assert answer.raised is None
        assert isinstance(answer.body["message"], str)


def test_pending_cashout_is_cancelled(entry: str, invoke: Invoke, d24: D24Sandbox) -> None:
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_returned(answer, 200, "CANCELLED")
    assert answer.body["cashout_id"] == 1001
    assert answer.body["external_id"] == "ext-1001"
    assert answer.body["cashout_status"] == CANCELLED
    assert answer.body["cashout_status_description"] == "Canceled"
    assert d24.status_of(1001) == CANCELLED


def test_cashout_id_given_as_decimal_string_is_sent_as_integer(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    answer = send(invoke, entry, "1002", "ext-1002")
    assert_returned(answer, 200, "CANCELLED")
    assert answer.body["cashout_id"] == 1002
    sent = d24.received("cancel")[-1].json()
    assert sent["cashout_id"] == 1002
    assert isinstance(sent["cashout_id"], int)


def test_on_hold_cashout_is_cancelled_as_d24_answers(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    assert_returned(send(invoke, entry, 2005, "ext-2005"), 200, "CANCELLED")
    assert d24.status_of(2005) == CANCELLED


def test_second_cancel_is_already_cancelled(entry: str, invoke: Invoke, d24: D24Sandbox) -> None:
    assert_returned(send(invoke, entry, 1003, "ext-1003"), 200, "CANCELLED")
    again = send(invoke, entry, 1003, "ext-1003")
    assert_returned(again, 200, "ALREADY_CANCELLED")
    assert again.body["cashout_status"] == CANCELLED


def test_cashout_cancelled_elsewhere_is_already_cancelled(entry: str, invoke: Invoke) -> None:
    answer = send(invoke, entry, 2002, "ext-2002")
    assert_returned(answer, 200, "ALREADY_CANCELLED")
    assert answer.body["upstream"] == {
        "http_status": 412,
        "code": 510,
        "message": "Invalid status transition",
    }


def test_unknown_cashout_is_not_found(entry: str, invoke: Invoke) -> None:
    answer = send(invoke, entry, 987654321, "ext-x")
    assert_returned(answer, 404, "NOT_FOUND")
    assert answer.body["upstream"]["code"] == 509
    assert answer.body["message"]


def test_external_id_of_another_cashout_is_not_found(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    assert_returned(send(invoke, entry, 1004, "ext-1005"), 404, "NOT_FOUND")
    assert d24.status_of(1004) == PENDING


def test_completed_cashout_is_not_cancellable_with_its_status(entry: str, invoke: Invoke) -> None:
    answer = send(invoke, entry, 2001, "ext-2001")
    assert_returned(answer, 409, "NOT_CANCELLABLE")
    assert answer.body["cashout_status"] == COMPLETED
    assert answer.body["cashout_status_description"] == "Completed"
    assert answer.body["upstream"]["code"] == 510


def test_rejected_cashout_passes_rejection_code_and_reason_through(
    entry: str, invoke: Invoke
) -> None:
    answer = send(invoke, entry, 2003, "ext-2003")
    assert_returned(answer, 409, "NOT_CANCELLABLE")
    assert answer.body["rejection_code"] == "R01"
    assert answer.body["rejection_reason"] == "Invalid account"


def test_other_412_is_not_cancellable_when_status_is_not_cancelled(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.inject(Fault.status(412, {"code": 702, "message": "Could not cancel cashout"}))
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_returned(answer, 409, "NOT_CANCELLABLE")
    assert answer.body["cashout_status"] == PENDING
    assert answer.body["upstream"]["code"] == 702


def test_510_with_status_look_up_failing_is_a_retryable_unknown_not_a_final_refusal(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given a cashout D24 holds cancelled (an earlier invocation may have done it), refusing the
    # cancel with 510, and its status endpoint failing
    d24.inject(Fault.status(503), endpoint="status", times=10)

    # When a caller asks to cancel it
    answer = send(invoke, entry, 2002, "ext-2002")

    # Then it is told nothing final: a retryable 5xx that says the cashout may be cancelled
    assert_failed(entry, answer, 502, "UPSTREAM_UNAVAILABLE")
    if answer.raised is None:
        assert "cashout_status" not in answer.body
        assert answer.body["upstream"]["code"] == 510
        assert "may already be cancelled" in answer.body["message"]


@pytest.mark.slow
def test_510_with_status_look_up_timing_out_is_upstream_timeout(
    entry: str, invoke: Invoke, d24: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given D24 refusing the cancel with 510 and its status endpoint never answering
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", "0.2")
    d24.inject(Fault.hang(), endpoint="status", times=10)

    # When a caller asks to cancel
    answer = send(invoke, entry, 2004, "ext-2004", remaining_ms=3000)

    # Then the unknown is a timeout
    assert_failed(entry, answer, 504, "UPSTREAM_TIMEOUT")


@pytest.mark.parametrize(
    ("cashout_id", "external_id", "field"),
    [
        (0, "e", "cashout_id"),
        ("007", "e", "cashout_id"),
        (1.5, "e", "cashout_id"),
        (True, "e", "cashout_id"),
        (2**63, "e", "cashout_id"),
        (1001, "", "external_id"),
        (1001, "x" * 101, "external_id"),
        (1001, 42, "external_id"),
        (1001, None, "external_id"),
    ],
)
def test_invalid_request_names_the_field_and_sends_nothing(
    entry: str, invoke: Invoke, d24: D24Sandbox, cashout_id: Any, external_id: Any, field: str
) -> None:
    if entry.startswith("api") and not isinstance(cashout_id, (int, str)):
        pytest.skip("a path segment is always a string")
    answer = send(invoke, entry, cashout_id, external_id)
    assert_returned(answer, 400, "INVALID_REQUEST")
    assert field in answer.body["message"]
    assert d24.received() == []
    assert d24.status_of(1001) == PENDING


def test_d24_rejecting_parameters_is_upstream_rejected(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.inject(Fault.status(400))
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_returned(answer, 422, "UPSTREAM_REJECTED")
    assert answer.body["upstream"] == {"http_status": 400, "code": 300, "message": "Invalid params"}


def test_refused_credentials_after_one_reread_are_upstream_auth_failed(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.set_credentials(password="rotated-at-d24-only")
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_failed(entry, answer, 502, "UPSTREAM_AUTH_FAILED")
    assert len(d24.received("cancel")) == 2  # the first try and the one retry after re-reading
    assert d24.status_of(1001) == PENDING


def test_rotated_secret_is_picked_up_without_a_cold_start(
    entry: str, invoke: Invoke, d24: D24Sandbox, secrets: Any
) -> None:
    assert_returned(send(invoke, entry, 1001, "ext-1001"), 200, "CANCELLED")  # secret now cached
    d24.set_credentials(password="new-pass", secret_key="new-key")
    secrets.put_secret_value(
        SecretId=SECRET_ID,
        SecretString=json.dumps(
            {"login": "merchant-login", "pass": "new-pass", "secret_key": "new-key"}
        ),
    )
    assert_returned(send(invoke, entry, 1002, "ext-1002"), 200, "CANCELLED")
    assert d24.status_of(1002) == CANCELLED


def test_d24_unavailable_on_every_attempt_is_upstream_unavailable(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.inject(Fault.status(503), times=3)
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_failed(entry, answer, 502, "UPSTREAM_UNAVAILABLE")
    assert len(d24.received("cancel")) == 3
    assert d24.status_of(1001) == PENDING


def test_html_page_with_200_is_upstream_bad_response(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.inject(Fault.html(200))
    assert_failed(entry, send(invoke, entry, 1001, "ext-1001"), 502, "UPSTREAM_BAD_RESPONSE")


@pytest.mark.slow
def test_no_answer_in_time_and_no_status_is_upstream_timeout(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    d24.inject(Fault.hang(), endpoint="any", times=10)
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_failed(entry, answer, 504, "UPSTREAM_TIMEOUT")


def test_missing_secret_is_configuration_error(
    entry: str, invoke: Invoke, d24: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D24_SECRET_ID", "no/such/secret")
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_failed(entry, answer, 500, "CONFIGURATION_ERROR")
    assert d24.received() == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [("D24_BASE_URL", None), ("D24_SECRET_ID", None), ("D24_BASE_URL", "http://example.com/v3")],
)
def test_missing_or_unsafe_settings_are_configuration_error(
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    answer = send(invoke, entry, 1001, "ext-1001")
    assert_failed(entry, answer, 500, "CONFIGURATION_ERROR")
    if entry != "eventbridge":
        assert variable in answer.body["message"]
    assert d24.received() == []


def test_unexpected_bug_is_internal_error(
    entry: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cashout_cancel.cancel.service import CancelService

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(CancelService, "cancel", broken)
    assert_failed(entry, send(invoke, entry, 1001, "ext-1001"), 500, "INTERNAL_ERROR")
