"""The cancel use case: cancel at D24, reconcile what is uncertain, map to one result.

It knows nothing of API Gateway or EventBridge. Its rule above all (CONTRACT section 5): say
CANCELLED only when D24 holds the cashout cancelled, and never say NOT_FOUND, NOT_CANCELLABLE or
"unknown" about a cancel that one of its own attempts may have applied while D24's status
endpoint can tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from .credentials import Credentials, CredentialStore
from .d24_client import D24Answer, D24Client, D24Unreachable
from .deadline import Deadline
from .errors import ConfigurationError
from .outcomes import CASHOUT_STATUS_NAMES, CancelResult, CashoutStatus, Outcome, UpstreamError
from .validation import CancelRequest

NOT_FOUND_CODE = 509
_AUTH_REFUSED = (401, 403)
# What a final D24 answer that is neither a confirmation nor a 412 means for the caller; any
# other status (a 200 that confirms nothing, a 3xx, a 404) is a bad response.
_ERROR_OUTCOMES = {
    400: Outcome.UPSTREAM_REJECTED,
    401: Outcome.UPSTREAM_AUTH_FAILED,
    403: Outcome.UPSTREAM_AUTH_FAILED,
}


class _NotFound:
    """D24's status endpoint says there is no such cashout."""


_NOT_FOUND = _NotFound()
LookUp = CashoutStatus | _NotFound | None  # None: the status endpoint could not tell


@dataclass(frozen=True)
class _Context:
    request: CancelRequest
    deadline: Deadline
    credentials: Credentials


class CancelService:
    """Cancels one cashout per call; safe to share across threads and warm invocations."""

    def __init__(self, client: D24Client, credentials: CredentialStore, status_reserve: float):
        self._client = client
        self._credentials = credentials
        # Seconds of the deadline that cancel attempts leave for the status look-up after them.
        self._status_reserve = status_reserve

    def cancel(self, request: CancelRequest, deadline: Deadline) -> CancelResult:
        """Cancel `request` at D24 and answer truthfully whatever fails around it."""
        try:
            return self._cancel(request, deadline)
        except ConfigurationError as exc:
            return configuration_error(request, exc)

    def clear_credentials(self) -> None:
        """Forget cached credentials; the next cancel reads the secret again."""
        self._credentials.clear()

    def _cancel(self, request: CancelRequest, deadline: Deadline) -> CancelResult:
        credentials = self._credentials.get()
        reserve = min(self._status_reserve, deadline.remaining() / 3)
        may_have_applied = False
        try:
            answer = self._client.cancel(
                credentials, request.cashout_id, request.external_id, deadline, reserve
            )
            if answer.http_status in _AUTH_REFUSED:
                # A rotated secret: read it again once and retry once, without a cold start.
                may_have_applied = answer.earlier_attempt_may_have_applied
                credentials = self._credentials.refresh(credentials)
                answer = self._client.cancel(
                    credentials, request.cashout_id, request.external_id, deadline, reserve
                )
        except D24Unreachable as exc:
            ctx = _Context(request, deadline, credentials)
            return self._after_no_answer(ctx, exc, may_have_applied or exc.may_have_applied)
        ctx = _Context(request, deadline, credentials)
        may_have_applied = may_have_applied or answer.earlier_attempt_may_have_applied
        return self._from_answer(ctx, answer, may_have_applied)

    def _from_answer(
        self, ctx: _Context, answer: D24Answer, may_have_applied: bool
    ) -> CancelResult:
        status = answer.http_status
        if status == 200:
            confirmed = _cashout_status(answer)
            if confirmed is not None and confirmed.is_cancelled:
                return self._result(ctx, Outcome.CANCELLED, status=confirmed)
        if status == 412:
            if answer.field("code") == NOT_FOUND_CODE and not may_have_applied:
                return self._result(ctx, Outcome.NOT_FOUND, upstream=answer.upstream_error())
            return self._reconcile_refusal(ctx, answer, may_have_applied)
        if status >= 500:  # a 5xx that is not retried (501, 505, ...) is still "unavailable"
            return self._after_no_answer(ctx, D24Unreachable(False, True, answer), True)
        if may_have_applied:
            # An earlier attempt may have cancelled it: D24's status says whether it did.
            found = self._look_up(ctx)
            if isinstance(found, CashoutStatus) and found.is_cancelled:
                return self._result(ctx, Outcome.CANCELLED, status=found)
        outcome = _ERROR_OUTCOMES.get(status, Outcome.UPSTREAM_BAD_RESPONSE)
        return self._result(ctx, outcome, upstream=answer.upstream_error())

    def _reconcile_refusal(
        self, ctx: _Context, refusal: D24Answer, may_have_applied: bool
    ) -> CancelResult:
        """D24 refused the cancel (510 or another 412): its status decides what is true."""
        upstream = refusal.upstream_error()
        found = self._look_up(ctx)
        if isinstance(found, CashoutStatus):
            if found.is_cancelled:
                outcome = Outcome.CANCELLED if may_have_applied else Outcome.ALREADY_CANCELLED
                return self._result(ctx, outcome, status=found, upstream=upstream)
            return self._result(ctx, Outcome.NOT_CANCELLABLE, status=found, upstream=upstream)
        if isinstance(found, _NotFound):
            return self._result(ctx, Outcome.NOT_FOUND, upstream=upstream)
        if may_have_applied:
            # Our earlier attempt may be what made the cashout not cancellable: say we don't know.
            return self._result(
                ctx,
                Outcome.UPSTREAM_TIMEOUT,
                upstream=upstream,
                message="An earlier attempt may have cancelled the cashout, but D24's status could"
                " not be checked; retry the cancel to learn the outcome.",
            )
        return self._result(ctx, Outcome.NOT_CANCELLABLE, upstream=upstream)

    def _after_no_answer(
        self, ctx: _Context, failure: D24Unreachable, may_have_applied: bool
    ) -> CancelResult:
        """No usable answer to the cancel: ask D24's status before saying we don't know."""
        upstream = failure.last_answer.upstream_error() if failure.last_answer else None
        found = self._look_up(ctx)
        if isinstance(found, CashoutStatus) and found.is_cancelled:
            outcome = Outcome.CANCELLED if may_have_applied else Outcome.ALREADY_CANCELLED
            return self._result(ctx, outcome, status=found)
        if isinstance(found, _NotFound):
            return self._result(ctx, Outcome.NOT_FOUND)
        outcome = Outcome.UPSTREAM_TIMEOUT if failure.timed_out else Outcome.UPSTREAM_UNAVAILABLE
        return self._result(ctx, outcome, status=found, upstream=upstream)

    def _look_up(self, ctx: _Context) -> LookUp:
        request, credentials = ctx.request, ctx.credentials
        try:
            answer = self._client.status(
                credentials, request.cashout_id, request.external_id, ctx.deadline
            )
            if answer.http_status in _AUTH_REFUSED:
                credentials = self._credentials.refresh(credentials)
                answer = self._client.status(
                    credentials, request.cashout_id, request.external_id, ctx.deadline
                )
        except (D24Unreachable, ConfigurationError):
            return None
        if answer.http_status == 412 and answer.field("code") == NOT_FOUND_CODE:
            return _NOT_FOUND
        return _cashout_status(answer) if answer.http_status == 200 else None

    def _result(
        self,
        ctx: _Context,
        outcome: Outcome,
        *,
        status: CashoutStatus | None = None,
        upstream: UpstreamError | None = None,
        message: str | None = None,
    ) -> CancelResult:
        return CancelResult(
            outcome,
            cashout_id=ctx.request.cashout_id,
            external_id=ctx.request.external_id,
            status=status,
            upstream=upstream,
            message=message,
        )


def configuration_error(request: CancelRequest, problem: ConfigurationError) -> CancelResult:
    """The 500 for a missing or malformed setting or secret, naming the problem (never a value)."""
    return CancelResult(
        Outcome.CONFIGURATION_ERROR,
        cashout_id=request.cashout_id,
        external_id=request.external_id,
        message=f"Configuration error: {problem}.",
    )


def _cashout_status(answer: D24Answer) -> CashoutStatus | None:
    """The status a 200 answer reports, or None when it is not a well-formed status."""
    code = answer.field("cashout_status")
    if not isinstance(code, int) or isinstance(code, bool) or code < 0:
        return None
    description = answer.field("cashout_status_description")
    return CashoutStatus(
        code=code,
        description=description
        if isinstance(description, str)
        else CASHOUT_STATUS_NAMES.get(code, "Unknown"),
        rejection_code=answer.field("rejection_code"),
        rejection_reason=answer.field("rejection_reason"),
    )
