"""The cancel use case: gather the facts of one cancel at D24, then decide what to answer.

It knows nothing of who called. It asks D24 to cancel, re-reads the secret once when D24 refuses
the credentials, asks D24 for the cashout's status whenever the cancel's answer is not the whole
truth, and hands what happened to the one pure decision (decision.py).
"""

from __future__ import annotations

from collections.abc import Callable

from .credentials import Credentials, CredentialStore
from .d24_client import CallResult, D24Client, NoAnswer
from .deadline import MIN_ATTEMPT_SECONDS, Deadline, status_reserve
from .decision import NOT_ASKED, LookUp, Said, decide, needs_look_up, read_look_up
from .errors import ConfigurationError
from .outcomes import CancelResult, Outcome
from .validation import CancelRequest

_AUTH_REFUSED = frozenset({401, 403})

Call = Callable[[Credentials], CallResult]

# An invocation out of time before it began: nothing sent, nothing learned.
_NOTHING_SENT = CallResult(None, NoAnswer.TIMED_OUT, may_have_applied=False, sent=0)
_NO_TIME_TO_ASK = LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.TIMED_OUT)


class CancelService:
    """Cancels one cashout per call; safe to share across threads and warm invocations."""

    def __init__(self, client: D24Client, credentials: CredentialStore) -> None:
        self._client = client
        self._credentials = credentials

    def cancel(self, request: CancelRequest, deadline: Deadline) -> CancelResult:
        """Cancel `request` at D24 and answer truthfully whatever fails around it."""
        if deadline.remaining() < MIN_ATTEMPT_SECONDS:
            return decide(request, _NOTHING_SENT, _NO_TIME_TO_ASK)
        try:
            credentials = self._credentials.get(deadline)
            # Cancel attempts leave room for a whole status look-up after them.
            reserve = status_reserve(deadline.remaining(), self._client.attempt_limit)
            cancelled, credentials = self._with_one_reread(
                credentials,
                deadline,
                lambda c: self._client.cancel(
                    c, request.cashout_id, request.external_id, deadline, reserve
                ),
            )
        except ConfigurationError as exc:
            return configuration_error(request, exc)
        look_up = (
            self._look_up(request, credentials, deadline) if needs_look_up(cancelled) else None
        )
        return decide(request, cancelled, look_up or NOT_ASKED)

    @property
    def attempt_limit(self) -> float:
        """The longest one D24 attempt may take."""
        return self._client.attempt_limit

    def clear_credentials(self) -> None:
        """Forget cached credentials; the next cancel reads the secret again."""
        self._credentials.clear()

    def _look_up(
        self, request: CancelRequest, credentials: Credentials, deadline: Deadline
    ) -> LookUp:
        try:
            found, _ = self._with_one_reread(
                credentials,
                deadline,
                lambda c: self._client.status(c, request.cashout_id, request.external_id, deadline),
            )
        except ConfigurationError:  # the secret vanished between the cancel and the look-up
            return LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.UNAVAILABLE)
        return read_look_up(found)

    def _with_one_reread(
        self, credentials: Credentials, deadline: Deadline, call: Call
    ) -> tuple[CallResult, Credentials]:
        """`call` with the cached credentials and, if D24 refuses them, once more with the secret
        re-read: a rotated secret is picked up without a cold start (CONTRACT section 5)."""
        first = call(credentials)
        if first.no_answer is not None or first.reply is None:
            return first, credentials
        if first.reply.http_status not in _AUTH_REFUSED:
            return first, credentials
        credentials = self._credentials.refresh(credentials, deadline)
        second = call(credentials)
        return (
            CallResult(
                second.reply,
                second.no_answer,
                first.may_have_applied or second.may_have_applied,
                first.sent + second.sent,
            ),
            credentials,
        )


def configuration_error(request: CancelRequest, problem: ConfigurationError) -> CancelResult:
    """The 500 for a missing or malformed setting or secret, naming the problem (never a value)."""
    return CancelResult(
        Outcome.CONFIGURATION_ERROR,
        cashout_id=request.cashout_id,
        external_id=request.external_id,
        message=f"Configuration error: {problem}.",
    )
