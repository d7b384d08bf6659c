"""What to answer: one pure decision from what happened during this invocation.

Facts in: what the cancel call came to (D24's last answer, or why there was none, and whether an
attempt may have applied the cancel) and what the status look-up said, if it was asked. One result
out. Nothing here does I/O: service.py gathers the facts. Hold it next to docs/contract.md sections
4 and 5; the rule they serve: a cashout is said to be cancelled only when D24 holds it cancelled,
and a final answer (2xx or 4xx) about a cancel that D24 did not confirm is given only when D24's
status confirms it. A later invocation cannot know what an earlier one did, so when the status
cannot be learned the answer is a retryable 5xx, never a final 4xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..d24.answers import AUTH_REFUSED, CashoutStatus
from ..d24.client import CallResult, NoAnswer, Reply
from .outcomes import OUTCOME_TABLE, CancelResult, Outcome
from .request import CancelRequest

NOT_FOUND_CODE = 509


class CancelAnswer(Enum):
    """D24's last word on the cancel, from its answer or its silence."""

    CONFIRMED = "confirmed"  # 200 with cashout_status 2 (Cancelled)
    NOT_FOUND = "not found"  # 412, code 509: no such cashout, or not with this external_id
    REFUSED = "refused"  # 412 with another code (510: invalid status transition)
    REJECTED = "rejected"  # 400: D24 rejected our parameters
    AUTH_REFUSED = "auth refused"  # 401/403, also after re-reading the secret once
    UNCLEAR = "unclear"  # anything else: a 200 that confirms nothing, a 3xx, a 404, a 1xx...
    UNAVAILABLE = "unavailable"  # 429/5xx on every attempt, connections refused or dropped
    TIMED_OUT = "timed out"  # no answer in time, or no attempt could start


def read_cancel(call: CallResult) -> CancelAnswer:
    """What the cancel call came to, as one of CancelAnswer."""
    if call.no_answer is NoAnswer.TIMED_OUT:
        return CancelAnswer.TIMED_OUT
    if call.no_answer is not None or call.reply is None:
        return CancelAnswer.UNAVAILABLE
    reply = call.reply
    if reply.http_status == 200 and reply.status is not None and reply.status.is_cancelled:
        return CancelAnswer.CONFIRMED
    if reply.http_status == 412:
        return (
            CancelAnswer.NOT_FOUND if reply.error_code == NOT_FOUND_CODE else CancelAnswer.REFUSED
        )
    if reply.http_status == 400:
        return CancelAnswer.REJECTED
    if reply.http_status in AUTH_REFUSED:
        return CancelAnswer.AUTH_REFUSED
    if reply.http_status >= 500:  # a 5xx that is not retried (501, 505...) is still "unavailable"
        return CancelAnswer.UNAVAILABLE
    return CancelAnswer.UNCLEAR


class Said(Enum):
    """What the status look-up said."""

    NOT_ASKED = "not asked"
    HOLDS = "holds"  # D24 holds the cashout in `status`
    NO_SUCH_CASHOUT = "no such cashout"  # 412, code 509
    COULD_NOT_TELL = "could not tell"  # no usable answer (`no_answer` says why)


@dataclass(frozen=True)
class LookUp:
    """The status look-up's answer, as facts."""

    said: Said
    status: CashoutStatus | None = None
    no_answer: NoAnswer | None = None  # for COULD_NOT_TELL: TIMED_OUT, or anything else

    @property
    def holds_cancelled(self) -> bool:
        """True when D24 says it holds the cashout Cancelled."""
        return self.status is not None and self.status.is_cancelled


NOT_ASKED = LookUp(Said.NOT_ASKED)


def read_look_up(call: CallResult) -> LookUp:
    """What the status call came to, as a LookUp."""
    reply = call.reply
    if call.no_answer is not None or reply is None:
        return LookUp(Said.COULD_NOT_TELL, no_answer=call.no_answer or NoAnswer.UNAVAILABLE)
    if reply.http_status == 200 and reply.status is not None:
        return LookUp(Said.HOLDS, status=reply.status)
    if reply.http_status == 412 and reply.error_code == NOT_FOUND_CODE:
        return LookUp(Said.NO_SUCH_CASHOUT)
    return LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.UNAVAILABLE)


def may_have_applied(call: CallResult) -> bool:
    """True when an attempt of this invocation may have cancelled the cashout.

    The client knows of answers lost and 5xx; an answer that is neither a confirmation nor a
    refusal (a 200 that confirms nothing, a 3xx) came from a request that was received, so its
    effect is unknown too.
    """
    return call.may_have_applied or read_cancel(call) is CancelAnswer.UNCLEAR


def needs_look_up(call: CallResult) -> bool:
    """True unless D24's answer to the cancel is itself the truth to tell.

    A confirmation is; "no such cashout" and D24 rejecting our parameters or our credentials are
    too, unless an earlier attempt may have applied the cancel (a cashout cancelled by a lost
    attempt may be "not found" to the retry). Every refusal, every unclear answer and every
    silence is checked against D24's status (docs/contract.md section 5).
    """
    answer = read_cancel(call)
    if answer is CancelAnswer.CONFIRMED:
        return False
    if answer in (CancelAnswer.NOT_FOUND, CancelAnswer.REJECTED, CancelAnswer.AUTH_REFUSED):
        return call.may_have_applied
    return True


# What to answer when the look-up says D24 holds the cashout in another status than Cancelled,
# or could not tell. UNKNOWN is the retryable 5xx that claims nothing: UPSTREAM_TIMEOUT when the
# look-up timed out, UPSTREAM_UNAVAILABLE otherwise.
UNKNOWN = None
_TABLE: dict[CancelAnswer, tuple[Outcome | None, Outcome | None]] = {
    #                           holds another status          could not tell
    CancelAnswer.REFUSED: (Outcome.NOT_CANCELLABLE, UNKNOWN),
    # 509 after an attempt that may have applied the cancel: as unclear as any other answer
    CancelAnswer.NOT_FOUND: (Outcome.UPSTREAM_BAD_RESPONSE, Outcome.UPSTREAM_BAD_RESPONSE),
    CancelAnswer.REJECTED: (Outcome.UPSTREAM_REJECTED, UNKNOWN),
    CancelAnswer.AUTH_REFUSED: (Outcome.UPSTREAM_AUTH_FAILED, Outcome.UPSTREAM_AUTH_FAILED),
    CancelAnswer.UNCLEAR: (Outcome.UPSTREAM_BAD_RESPONSE, Outcome.UPSTREAM_BAD_RESPONSE),
    CancelAnswer.UNAVAILABLE: (Outcome.UPSTREAM_UNAVAILABLE, Outcome.UPSTREAM_UNAVAILABLE),
    CancelAnswer.TIMED_OUT: (Outcome.UPSTREAM_TIMEOUT, Outcome.UPSTREAM_TIMEOUT),
}
# Without a look-up (needs_look_up said D24's answer is the truth).
_NOT_ASKED: dict[CancelAnswer, Outcome] = {
    CancelAnswer.CONFIRMED: Outcome.CANCELLED,
    CancelAnswer.NOT_FOUND: Outcome.NOT_FOUND,
    CancelAnswer.REJECTED: Outcome.UPSTREAM_REJECTED,
    CancelAnswer.AUTH_REFUSED: Outcome.UPSTREAM_AUTH_FAILED,
}


def decide(request: CancelRequest, call: CallResult, look_up: LookUp) -> CancelResult:
    """The one result for `request`, from what the cancel call and the look-up came to."""
    answer = read_cancel(call)
    reply = call.reply
    upstream = (
        reply.upstream if reply is not None and answer is not CancelAnswer.CONFIRMED else None
    )

    def result(outcome: Outcome, status: CashoutStatus | None = None) -> CancelResult:
        shown = None if outcome is Outcome.CANCELLED else upstream
        return CancelResult(
            outcome,
            cashout_id=request.cashout_id,
            external_id=request.external_id,
            status=status,
            upstream=shown,
            message=_message(outcome, answer, call, look_up, status),
            merchant=request.merchant,
        )

    if look_up.said is Said.NOT_ASKED:
        confirmed = reply.status if reply is not None and answer is CancelAnswer.CONFIRMED else None
        return result(_NOT_ASKED[answer], confirmed)
    if look_up.holds_cancelled:
        # D24 holds it Cancelled: ours if an attempt of this invocation may have done it.
        mine = may_have_applied(call)
        return result(Outcome.CANCELLED if mine else Outcome.ALREADY_CANCELLED, look_up.status)
    if look_up.said is Said.NO_SUCH_CASHOUT:
        return result(Outcome.NOT_FOUND)
    holds_other, could_not_tell = _TABLE[answer]
    if look_up.said is Said.HOLDS:
        return result(holds_other or _unknown(look_up), look_up.status)
    return result(could_not_tell or _unknown(look_up))


def _unknown(look_up: LookUp) -> Outcome:
    timed_out = look_up.no_answer is NoAnswer.TIMED_OUT
    return Outcome.UPSTREAM_TIMEOUT if timed_out else Outcome.UPSTREAM_UNAVAILABLE


# Messages: one sentence true of the fields beside it (docs/contract.md section 4, `message`).


def _message(
    outcome: Outcome,
    answer: CancelAnswer,
    call: CallResult,
    look_up: LookUp,
    status: CashoutStatus | None,
) -> str | None:
    if outcome in (Outcome.CANCELLED, Outcome.ALREADY_CANCELLED):
        return None
    if outcome is Outcome.NOT_FOUND:
        return "D24 has no cashout with this cashout_id and external_id."
    what = _what_happened(answer, call)
    retry = " Retry the cancel to learn its outcome." if OUTCOME_TABLE[outcome][0] >= 500 else ""
    if status is not None:
        seen = f"its status look-up shows the cashout {status.description} ({status.code})"
        if outcome is Outcome.NOT_CANCELLABLE:
            return f"D24 refused the cancel: {seen}, not cancellable."
        return f"{what}; {seen}.{retry}"
    if look_up.said is Said.COULD_NOT_TELL:
        doubt = (
            "the cashout may already be cancelled"
            if answer is CancelAnswer.REFUSED or may_have_applied(call)
            else "nothing shows the cancel was applied"
        )
        return f"{what}, and its status could not be checked: {doubt}.{retry}"
    return f"{what}.{retry}"


def _what_happened(answer: CancelAnswer, call: CallResult) -> str:
    """The cancel's fate in a clause, naming D24's answer where there was one."""
    reply = call.reply
    http = f"HTTP {reply.http_status}" if reply is not None else ""
    if answer is CancelAnswer.TIMED_OUT:
        if call.sent == 0:
            return "There was no time left to call D24 before the deadline; nothing was sent"
        return "D24 did not answer the cancel in time"
    if answer is CancelAnswer.UNAVAILABLE:
        if call.no_answer is NoAnswer.TLS_REFUSED:
            return "D24's TLS certificate failed verification, so the cancel was not sent"
        return f"D24 was unavailable ({http or 'no connection'} on the last attempt)"
    if answer is CancelAnswer.REFUSED:
        return f"D24 refused the cancel ({_code(reply)})"
    if answer is CancelAnswer.NOT_FOUND:
        return (
            f"D24 answered it has no such cashout ({_code(reply)}) after an earlier attempt"
            " may have cancelled it"
        )
    if answer is CancelAnswer.REJECTED:
        return f"D24 rejected the request parameters ({_code(reply)})"
    if answer is CancelAnswer.AUTH_REFUSED:
        return (
            f"D24 refused the function's credentials or signature ({http}), also after"
            " re-reading the secret; check the D24 secret and the egress IP whitelist"
        )
    return f"D24 answered {http} with something that is not a cancel confirmation"


def _code(reply: Reply | None) -> str:
    upstream = reply.upstream if reply is not None else None
    if upstream is None or upstream.code is None:
        return f"HTTP {reply.http_status}" if reply is not None else "no answer"
    return f"HTTP {upstream.http_status}, code {upstream.code}"
