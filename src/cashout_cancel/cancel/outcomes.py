"""The outcome table of docs/contract.md section 4, and the result every caller gets.

This module is the one place where an outcome is tied to its status code and default message;
hold it next to the contract and compare row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..d24.answers import CashoutStatus, UpstreamError


class Outcome(StrEnum):
    """What happened to one cancel request; the value is what callers see."""

    CANCELLED = "CANCELLED"
    ALREADY_CANCELLED = "ALREADY_CANCELLED"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN_MERCHANT = "UNKNOWN_MERCHANT"
    NOT_CANCELLABLE = "NOT_CANCELLABLE"
    INVALID_REQUEST = "INVALID_REQUEST"
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UPSTREAM_REJECTED = "UPSTREAM_REJECTED"
    UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_BAD_RESPONSE = "UPSTREAM_BAD_RESPONSE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# outcome -> (statusCode, default message for a non-2xx answer)
OUTCOME_TABLE: dict[Outcome, tuple[int, str | None]] = {
    Outcome.CANCELLED: (200, None),
    Outcome.ALREADY_CANCELLED: (200, None),
    Outcome.NOT_FOUND: (404, "D24 has no cashout with this cashout_id and external_id."),
    Outcome.UNKNOWN_MERCHANT: (
        404,
        "No such merchant account: it has no D24 secret in this deployment; nothing was sent.",
    ),
    Outcome.NOT_CANCELLABLE: (409, "D24 refused the cancel: the cashout is no longer cancellable."),
    Outcome.INVALID_REQUEST: (400, "The request is invalid."),
    Outcome.ROUTE_NOT_FOUND: (404, "No such route: use POST /cashouts/{cashout_id}/cancel."),
    Outcome.METHOD_NOT_ALLOWED: (405, "Method not allowed: use POST."),
    Outcome.UPSTREAM_REJECTED: (422, "D24 rejected the request parameters."),
    Outcome.UPSTREAM_AUTH_FAILED: (
        502,
        "D24 refused the function's credentials or signature; check the D24 secret.",
    ),
    Outcome.UPSTREAM_UNAVAILABLE: (502, "D24 is unavailable; the cancel may be retried."),
    Outcome.UPSTREAM_BAD_RESPONSE: (
        502,
        "D24 answered with something that is not a cancel confirmation.",
    ),
    Outcome.UPSTREAM_TIMEOUT: (
        504,
        "D24 did not answer in time and its status could not be checked.",
    ),
    Outcome.CONFIGURATION_ERROR: (500, "The function is misconfigured; see its logs."),
    Outcome.INTERNAL_ERROR: (500, "Unexpected internal error; see the function's logs."),
}


@dataclass(frozen=True)
class CancelResult:
    """The one result of a cancel request, before it is shaped for a caller."""

    outcome: Outcome
    cashout_id: int | None = None
    external_id: str | None = None
    status: CashoutStatus | None = None
    message: str | None = None
    upstream: UpstreamError | None = None
    merchant: str | None = None  # the account the request named (docs/contract.md section 11)
    # Where the request's secret came from (extension, sdk, cache), for the result line only:
    # not a result field, never in what a caller gets.
    secret_source: str | None = None

    @property
    def status_code(self) -> int:
        """The statusCode of docs/contract.md section 4 for this outcome."""
        return OUTCOME_TABLE[self.outcome][0]

    def to_dict(self) -> dict[str, Any]:
        """The result fields of docs/contract.md section 4, as every caller gets them."""
        body: dict[str, Any] = {"statusCode": self.status_code, "outcome": self.outcome.value}
        if self.cashout_id is not None:
            body["cashout_id"] = self.cashout_id
        if self.external_id is not None:
            body["external_id"] = self.external_id
        if self.merchant is not None:
            body["merchant"] = self.merchant
        if self.status is not None:
            body["cashout_status"] = self.status.code
            body["cashout_status_description"] = self.status.description
            if self.status.rejection_code is not None:
                body["rejection_code"] = self.status.rejection_code
            if self.status.rejection_reason is not None:
                body["rejection_reason"] = self.status.rejection_reason
        message = self.message or OUTCOME_TABLE[self.outcome][1]
        if message is not None:
            body["message"] = message
        if self.upstream is not None:
            body["upstream"] = self.upstream.to_dict()
        return body
