"""The outcome table and the result fields (docs/contract.md section 4)."""

import pytest

from cashout_cancel.cancel.outcomes import OUTCOME_TABLE, CancelResult, Outcome
from cashout_cancel.d24.answers import CashoutStatus, UpstreamError

CONTRACT_ROWS = {
    "CANCELLED": 200,
    "ALREADY_CANCELLED": 200,
    "NOT_FOUND": 404,
    "UNKNOWN_MERCHANT": 404,
    "NOT_CANCELLABLE": 409,
    "INVALID_REQUEST": 400,
    "ROUTE_NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "UPSTREAM_REJECTED": 422,
    "UPSTREAM_AUTH_FAILED": 502,
    "UPSTREAM_UNAVAILABLE": 502,
    "UPSTREAM_BAD_RESPONSE": 502,
    "UPSTREAM_TIMEOUT": 504,
    "CONFIGURATION_ERROR": 500,
    "INTERNAL_ERROR": 500,
}


def test_table_has_exactly_the_contract_rows_and_codes() -> None:
    assert {outcome.value: code for outcome, (code, _) in OUTCOME_TABLE.items()} == CONTRACT_ROWS


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_non_2xx_outcome_carries_a_message(outcome: Outcome) -> None:
    body = CancelResult(outcome).to_dict()
    assert body["statusCode"] == CONTRACT_ROWS[outcome.value]
    assert body["outcome"] == outcome.value
    if body["statusCode"] >= 300:
        assert isinstance(body["message"], str)
        assert body["message"]
    else:
        assert "message" not in body


def test_result_carries_status_rejection_and_upstream_when_known() -> None:
    result = CancelResult(
        Outcome.NOT_CANCELLABLE,
        cashout_id=7,
        external_id="e",
        status=CashoutStatus(3, "Rejected", "R01", "Invalid account"),
        upstream=UpstreamError(412, 510, "Invalid status transition"),
    )
    assert result.to_dict() == {
        "statusCode": 409,
        "outcome": "NOT_CANCELLABLE",
        "cashout_id": 7,
        "external_id": "e",
        "cashout_status": 3,
        "cashout_status_description": "Rejected",
        "rejection_code": "R01",
        "rejection_reason": "Invalid account",
        "message": OUTCOME_TABLE[Outcome.NOT_CANCELLABLE][1],
        "upstream": {"http_status": 412, "code": 510, "message": "Invalid status transition"},
    }


def test_fields_that_are_unknown_are_left_out() -> None:
    assert CancelResult(Outcome.CANCELLED).to_dict() == {"statusCode": 200, "outcome": "CANCELLED"}


def test_outcome_serialises_as_its_plain_name() -> None:
    assert f"{Outcome.NOT_FOUND}" == "NOT_FOUND"
