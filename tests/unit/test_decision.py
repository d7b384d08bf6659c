"""The decision, row by row (docs/contract.md sections 4 and 5): what D24's answer to the cancel and
its status look-up, as facts, make the function answer. No sockets: the facts are built here."""

from __future__ import annotations

import pytest

from cashout_cancel.cancel.decision import (
    NOT_ASKED,
    CancelAnswer,
    LookUp,
    Said,
    decide,
    needs_look_up,
    read_cancel,
    read_look_up,
)
from cashout_cancel.cancel.outcomes import Outcome
from cashout_cancel.cancel.request import CancelRequest
from cashout_cancel.d24.answers import CashoutStatus, UpstreamError
from cashout_cancel.d24.client import CallResult, NoAnswer, Reply
from local import d24_sandbox as sandbox
from local.d24_sandbox import STATUS_DESCRIPTIONS

REQUEST = CancelRequest(cashout_id=1001, external_id="ext-1001")
# D24's statuses as the sandbox (the independent D24) codes and spells them.
PENDING, COMPLETED, CANCELLED = (
    CashoutStatus(code, STATUS_DESCRIPTIONS[code])
    for code in (sandbox.PENDING, sandbox.COMPLETED, sandbox.CANCELLED)
)


def reply(http_status: int, code: int | None = None, status: CashoutStatus | None = None) -> Reply:
    return Reply(http_status, code, status, UpstreamError(http_status, code, "D24 said so"))


def answered(http_status: int, code: int | None = None, *, status: CashoutStatus | None = None,
             lost_before: bool = False) -> CallResult:  # fmt: skip
    """A cancel call that ended with this answer; `lost_before`: an earlier attempt's was lost."""
    return CallResult(reply(http_status, code, status), None, lost_before, 2 if lost_before else 1)


def no_answer(why: NoAnswer, *, reached: bool = True, sent: int = 3) -> CallResult:
    return CallResult(None, why, may_have_applied=reached, sent=sent)


HOLDS_CANCELLED = LookUp(Said.HOLDS, status=CANCELLED)
HOLDS_COMPLETED = LookUp(Said.HOLDS, status=COMPLETED)
HOLDS_PENDING = LookUp(Said.HOLDS, status=PENDING)
NO_SUCH = LookUp(Said.NO_SUCH_CASHOUT)
TIMED_OUT_LOOK_UP = LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.TIMED_OUT)
FAILED_LOOK_UP = LookUp(Said.COULD_NOT_TELL, no_answer=NoAnswer.UNAVAILABLE)

CONFIRMED = answered(200, status=CANCELLED)
REFUSED_510 = answered(412, 510)

# (cancel call, look-up, expected outcome, expected cashout_status) — each a row of section 4.
ROWS = [
    # D24 cancelled it
    ("confirmed", CONFIRMED, NOT_ASKED, Outcome.CANCELLED, 2),
    # 510, and the look-up says Cancelled: someone (an earlier invocation) did
    ("510-holds-cancelled", REFUSED_510, HOLDS_CANCELLED, Outcome.ALREADY_CANCELLED, 2),
    # 510 after an answer of ours was lost, and the look-up says Cancelled: ours
    ("lost-then-510-holds-cancelled", answered(412, 510, lost_before=True), HOLDS_CANCELLED,
     Outcome.CANCELLED, 2),
    # 509: no such cashout
    ("509", answered(412, 509), NOT_ASKED, Outcome.NOT_FOUND, None),
    # 509 after an attempt that may have applied the cancel: checked against the status
    ("lost-then-509-holds-cancelled", answered(412, 509, lost_before=True), HOLDS_CANCELLED,
     Outcome.CANCELLED, 2),
    ("lost-then-509-no-such-cashout", answered(412, 509, lost_before=True), NO_SUCH,
     Outcome.NOT_FOUND, None),
    ("lost-then-509-holds-pending", answered(412, 509, lost_before=True), HOLDS_PENDING,
     Outcome.UPSTREAM_BAD_RESPONSE, 0),
    ("lost-then-509-look-up-failed", answered(412, 509, lost_before=True), FAILED_LOOK_UP,
     Outcome.UPSTREAM_BAD_RESPONSE, None),
    ("lost-then-509-look-up-timed-out", answered(412, 509, lost_before=True), TIMED_OUT_LOOK_UP,
     Outcome.UPSTREAM_BAD_RESPONSE, None),
    # 510 or another 412, and the look-up shows another status
    ("510-holds-completed", REFUSED_510, HOLDS_COMPLETED, Outcome.NOT_CANCELLABLE, 1),
    ("702-holds-pending", answered(412, 702), HOLDS_PENDING, Outcome.NOT_CANCELLABLE, 0),
    ("510-no-such-cashout", REFUSED_510, NO_SUCH, Outcome.NOT_FOUND, None),
    # 510 and the look-up could not tell: no final answer
    ("510-look-up-failed", REFUSED_510, FAILED_LOOK_UP, Outcome.UPSTREAM_UNAVAILABLE, None),
    ("510-look-up-timed-out", REFUSED_510, TIMED_OUT_LOOK_UP, Outcome.UPSTREAM_TIMEOUT, None),
    # D24 rejected our parameters
    ("400", answered(400, 300), NOT_ASKED, Outcome.UPSTREAM_REJECTED, None),
    ("lost-then-400-holds-cancelled", answered(400, 300, lost_before=True), HOLDS_CANCELLED,
     Outcome.CANCELLED, 2),
    ("lost-then-400-look-up-failed", answered(400, 300, lost_before=True), FAILED_LOOK_UP,
     Outcome.UPSTREAM_UNAVAILABLE, None),
    # D24 refused our credentials, also after the re-read
    ("401", answered(401, 401), NOT_ASKED, Outcome.UPSTREAM_AUTH_FAILED, None),
    ("403", answered(403, 302), NOT_ASKED, Outcome.UPSTREAM_AUTH_FAILED, None),
    # 5xx/429 on every attempt; the look-up decides
    ("5xx-holds-pending", no_answer(NoAnswer.UNAVAILABLE), HOLDS_PENDING,
     Outcome.UPSTREAM_UNAVAILABLE, 0),
    ("5xx-holds-cancelled-ours", no_answer(NoAnswer.UNAVAILABLE), HOLDS_CANCELLED,
     Outcome.CANCELLED, 2),
    ("429-holds-cancelled-not-ours", no_answer(NoAnswer.UNAVAILABLE, reached=False),
     HOLDS_CANCELLED, Outcome.ALREADY_CANCELLED, 2),
    ("5xx-look-up-failed", no_answer(NoAnswer.UNAVAILABLE), FAILED_LOOK_UP,
     Outcome.UPSTREAM_UNAVAILABLE, None),
    ("non-retried-501", answered(501), HOLDS_PENDING, Outcome.UPSTREAM_UNAVAILABLE, 0),
    ("tls-refused", no_answer(NoAnswer.TLS_REFUSED, reached=False, sent=1), FAILED_LOOK_UP,
     Outcome.UPSTREAM_UNAVAILABLE, None),
    # A 200 (or 3xx, or another status) that is not a confirmation; the look-up decides
    ("garbled-200-holds-pending", answered(200), HOLDS_PENDING, Outcome.UPSTREAM_BAD_RESPONSE, 0),
    ("garbled-200-holds-cancelled", answered(200), HOLDS_CANCELLED, Outcome.CANCELLED, 2),
    ("302-holds-pending", answered(302), HOLDS_PENDING, Outcome.UPSTREAM_BAD_RESPONSE, 0),
    ("404-look-up-failed", answered(404), FAILED_LOOK_UP, Outcome.UPSTREAM_BAD_RESPONSE, None),
    ("pending-200-no-such-cashout", answered(200, status=PENDING), NO_SUCH, Outcome.NOT_FOUND,
     None),
    # No answer in time; the look-up decides
    ("timeout-holds-cancelled", no_answer(NoAnswer.TIMED_OUT), HOLDS_CANCELLED,
     Outcome.CANCELLED, 2),
    ("timeout-holds-pending", no_answer(NoAnswer.TIMED_OUT), HOLDS_PENDING,
     Outcome.UPSTREAM_TIMEOUT, 0),
    ("timeout-look-up-failed", no_answer(NoAnswer.TIMED_OUT), TIMED_OUT_LOOK_UP,
     Outcome.UPSTREAM_TIMEOUT, None),
    ("timeout-no-such-cashout", no_answer(NoAnswer.TIMED_OUT), NO_SUCH, Outcome.NOT_FOUND, None),
    ("nothing-sent", no_answer(NoAnswer.TIMED_OUT, reached=False, sent=0), TIMED_OUT_LOOK_UP,
     Outcome.UPSTREAM_TIMEOUT, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "look_up", "outcome", "cashout_status"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_each_row_of_the_outcome_table(
    call: CallResult, look_up: LookUp, outcome: Outcome, cashout_status: int | None
) -> None:
    result = decide(REQUEST, call, look_up).to_dict()
    assert result["outcome"] == outcome.value
    assert result.get("cashout_status") == cashout_status
    assert (result["cashout_id"], result["external_id"]) == (1001, "ext-1001")


@pytest.mark.parametrize(("call", "look_up"), [row[1:3] for row in ROWS], ids=[r[0] for r in ROWS])
def test_the_message_is_true_of_the_fields_beside_it(call: CallResult, look_up: LookUp) -> None:
    result = decide(REQUEST, call, look_up).to_dict()
    message = result.get("message", "")
    if result["statusCode"] < 300:
        assert "message" not in result
        return
    assert message
    if "cashout_status" in result:
        assert "could not be checked" not in message
        assert result["cashout_status_description"] in message
    if result["outcome"] in ("UPSTREAM_TIMEOUT", "UPSTREAM_UNAVAILABLE") and (
        "cashout_status" not in result
    ):
        assert "could not be checked" in message


def test_a_final_answer_about_a_refusal_needs_the_status_to_confirm_it() -> None:
    """docs/contract.md section 5: when the status cannot be learned, the answer is a retryable
    5xx."""
    for call in (REFUSED_510, answered(412, 702), answered(200), answered(302),
                 answered(412, 509, lost_before=True)):  # fmt: skip
        for look_up in (FAILED_LOOK_UP, TIMED_OUT_LOOK_UP):
            assert decide(REQUEST, call, look_up).status_code >= 500


def test_the_look_up_is_asked_unless_d24_s_answer_is_the_whole_truth() -> None:
    assert not needs_look_up(CONFIRMED)
    assert not needs_look_up(answered(412, 509))
    assert not needs_look_up(answered(400, 300))
    assert not needs_look_up(answered(401))
    for call in (REFUSED_510, answered(412, 702), answered(200), answered(302), answered(404),
                 answered(400, 300, lost_before=True), answered(401, lost_before=True),
                 answered(412, 509, lost_before=True),
                 no_answer(NoAnswer.TIMED_OUT), no_answer(NoAnswer.UNAVAILABLE),
                 no_answer(NoAnswer.TLS_REFUSED, reached=False)):  # fmt: skip
        assert needs_look_up(call), call


def test_upstream_carries_d24_s_error_but_not_beside_a_cancel_of_ours() -> None:
    already = decide(REQUEST, REFUSED_510, HOLDS_CANCELLED).to_dict()
    assert already["upstream"]["code"] == 510
    ours = decide(REQUEST, no_answer(NoAnswer.UNAVAILABLE), HOLDS_CANCELLED).to_dict()
    assert "upstream" not in ours


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        (CONFIRMED, CancelAnswer.CONFIRMED),
        (answered(200, status=PENDING), CancelAnswer.UNCLEAR),
        (answered(412, 509), CancelAnswer.NOT_FOUND),
        (answered(412, None), CancelAnswer.REFUSED),
        (answered(400), CancelAnswer.REJECTED),
        (answered(403), CancelAnswer.AUTH_REFUSED),
        (answered(505), CancelAnswer.UNAVAILABLE),
        (answered(307), CancelAnswer.UNCLEAR),
        (answered(103), CancelAnswer.UNCLEAR),
        (no_answer(NoAnswer.TIMED_OUT), CancelAnswer.TIMED_OUT),
        (no_answer(NoAnswer.TLS_REFUSED), CancelAnswer.UNAVAILABLE),
    ],
)
def test_every_answer_reads_as_one_kind(call: CallResult, answer: CancelAnswer) -> None:
    assert read_cancel(call) is answer


def test_a_status_answer_reads_as_what_it_says() -> None:
    assert read_look_up(answered(200, status=COMPLETED)) == HOLDS_COMPLETED
    assert read_look_up(answered(412, 509)).said is Said.NO_SUCH_CASHOUT
    assert read_look_up(answered(200)).said is Said.COULD_NOT_TELL  # no status in it
    assert read_look_up(answered(302)).said is Said.COULD_NOT_TELL
    assert read_look_up(no_answer(NoAnswer.TIMED_OUT)) == TIMED_OUT_LOOK_UP
