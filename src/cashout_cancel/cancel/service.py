"""The cancel use case: gather the facts of one cancel at D24, then decide what to answer.

It knows nothing of who called. It asks D24 to cancel, re-reads the secret once when D24 refuses
the credentials, asks D24 for the cashout's status whenever the cancel's answer is not the whole
truth, and hands what happened to the one pure decision (decision.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..credentials.accounts import AccountNotServed, Accounts
from ..credentials.secret import Credentials
from ..credentials.secrets_manager import SecretNotFound
from ..credentials.sources import SecretSource
from ..credentials.store import CredentialStore, Fetched
from ..d24.answers import AUTH_REFUSED
from ..d24.client import CallResult, D24Client, NoAnswer
from ..d24.pace import Pace
from ..deadline import MIN_ATTEMPT_SECONDS, Deadline
from ..settings import ConfigurationError
from .decision import NOT_ASKED, LookUp, Said, decide, needs_look_up, read_look_up
from .outcomes import CancelResult, Outcome
from .request import CancelRequest

Call = Callable[[Credentials], CallResult]

# An invocation out of time before it began: nothing sent, nothing learned.
_NOTHING_SENT = CallResult(None, NoAnswer.TIMED_OUT, may_have_applied=False, sent=0)
_NO_TIME_TO_ASK = LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.TIMED_OUT)


class CancelService:
    """Cancels one cashout per call; safe to share across threads and warm invocations."""

    def __init__(self, client: D24Client, accounts: Accounts) -> None:
        self._client = client
        self._accounts = accounts

    def cancel(
        self, request: CancelRequest, deadline: Deadline, pace: Pace | None = None
    ) -> CancelResult:
        """Cancel `request` at D24 and answer truthfully whatever fails around it; every request
        to D24 keeps to `pace` (shared by the cancels D24 throttles together: one account's)."""
        try:
            store = self._accounts.store_for(request.merchant)
        except AccountNotServed as problem:
            return _merchant_refused(request, problem)
        if not self._can_start(deadline):
            return decide(request, _NOTHING_SENT, _NO_TIME_TO_ASK)
        try:
            fetched = self._accounts.credentials(request.merchant, store, deadline)
        except SecretNotFound as exc:
            if request.merchant is None:
                return configuration_error(request, exc)
            # A named account whose secret does not exist: nothing was sent (section 11).
            return unknown_merchant(request)
        except ConfigurationError as exc:
            return configuration_error(request, exc)
        try:
            # Cancel attempts leave room for a whole status look-up after them.
            reserve = _status_reserve(deadline.remaining(), self._client.attempt_limit)
            cancelled, fetched = self._with_one_reread(
                store,
                fetched,
                deadline,
                lambda c: self._client.cancel(
                    c, request.cashout_id, request.external_id, deadline, reserve, pace
                ),
            )
        except ConfigurationError as exc:  # the secret re-read after D24 refused it
            return configuration_error(request, exc)
        look_up = None
        if needs_look_up(cancelled):
            look_up, fetched = self._look_up(request, store, fetched, deadline, pace)
        # Where its secret came from goes on the result line (docs/contract.md section 7).
        result = decide(request, cancelled, look_up or NOT_ASKED)
        return replace(result, secret_source=fetched.source.value)

    def _can_start(self, deadline: Deadline) -> bool:
        """True while a cancel is worth starting: a whole attempt and the status look-up after it
        still fit, or at least half the deadline's time is left (a short deadline, or the first
        cancels of an invocation, use what there is). A cancel queued behind others in a bulk
        batch is not started late: its message is answered 504, nothing sent, and redelivered."""
        needed = min(2 * self._client.attempt_limit, deadline.span / 2)
        return deadline.remaining() >= max(MIN_ATTEMPT_SECONDS, needed)

    def clear_credentials(self) -> None:
        """Forget every account's cached credentials; the next cancels read the secrets again."""
        self._accounts.clear()

    def _look_up(
        self,
        request: CancelRequest,
        store: CredentialStore,
        fetched: Fetched,
        deadline: Deadline,
        pace: Pace | None,
    ) -> tuple[LookUp, Fetched]:
        try:
            found, fetched = self._with_one_reread(
                store,
                fetched,
                deadline,
                lambda c: self._client.status(
                    c, request.cashout_id, request.external_id, deadline, pace
                ),
            )
        except ConfigurationError:  # the secret vanished between the cancel and the look-up
            return LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.UNAVAILABLE), fetched
        return read_look_up(found), fetched

    def _with_one_reread(
        self, store: CredentialStore, fetched: Fetched, deadline: Deadline, call: Call
    ) -> tuple[CallResult, Fetched]:
        """`call` with the cached credentials and, if D24 refuses them, once more with the
        account's secret re-read: a rotated secret is picked up without a cold start
        (docs/contract.md section 5), account by account (section 11)."""
        first = call(fetched.credentials)
        if first.no_answer is not None or first.reply is None:
            return first, fetched
        if first.reply.http_status not in AUTH_REFUSED:
            return first, fetched
        refreshed = store.refresh(fetched.credentials, deadline)
        if refreshed.source is SecretSource.CACHE:  # another request re-read it: keep ours
            refreshed = refreshed._replace(source=fetched.source)
        second = call(refreshed.credentials)
        return (
            CallResult(
                second.reply,
                second.no_answer,
                first.may_have_applied or second.may_have_applied,
                first.sent + second.sent,
            ),
            refreshed,
        )


def _status_reserve(remaining: float, attempt_limit: float) -> float:
    """Seconds the cancel attempts leave for the status look-up after them: a whole look-up
    attempt when there is time for both, otherwise half of what is left, so that neither the
    cancel nor the look-up that may have to explain it is starved."""
    return min(attempt_limit, remaining / 2)


def configuration_error(request: CancelRequest, problem: ConfigurationError) -> CancelResult:
    """The 500 for a missing or malformed setting or secret, naming the problem (never a value)."""
    return CancelResult(
        Outcome.CONFIGURATION_ERROR,
        cashout_id=request.cashout_id,
        external_id=request.external_id,
        message=f"Configuration error: {problem}.",
        merchant=request.merchant,
    )


def unknown_merchant(request: CancelRequest) -> CancelResult:
    """The 404 for a named merchant account that has no secret: nothing was sent."""
    return CancelResult(
        Outcome.UNKNOWN_MERCHANT,
        cashout_id=request.cashout_id,
        external_id=request.external_id,
        merchant=request.merchant,
    )


def _merchant_refused(request: CancelRequest, problem: AccountNotServed) -> CancelResult:
    """The 400 for a request this configuration cannot serve (section 11's table); the account
    it named is not echoed, it is the offending field."""
    return CancelResult(
        Outcome.INVALID_REQUEST,
        cashout_id=request.cashout_id,
        external_id=request.external_id,
        message=f"Invalid request: {problem.message}.",
    )
