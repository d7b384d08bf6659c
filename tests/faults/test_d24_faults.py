"""D24 misbehaving, through the real handler, for every caller (docs/contract.md sections 4 and 5).

D24 is the local sandbox on a real socket, playing injected faults: 5xx and 429 bursts, resets,
hangs, cancels applied whose answer is lost, 200 answers that are not a confirmation, HTML
pages, rotated credentials. Each case reads: given D24 misbehaving so, when a caller asks to
cancel, then it sees the contract's statusCode and outcome (an EventBridge result >= 500 is
raised), D24 ends in the expected state, and D24 only ever received our one request.

`D24_FAULTS` is a table so that the leak test (tests/security) can replay it verbatim.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

import pytest

from local.d24_sandbox import CANCELLED, COMPLETED, PENDING, D24Sandbox, Fault
from tests.conftest import (
    LOGIN,
    PASSWORD,
    SECRET_ID,
    SECRET_KEY,
    Invoke,
    LambdaContext,
    SecretReads,
)
from tests.integration.via import ENTRIES, Answer, send

UNKNOWN_CASHOUT = 987654321  # not in the sandbox
READ_TIMEOUT = 0.3  # seconds; long enough for loopback, short enough to keep hangs cheap

Target = Literal["cancel", "status", "any"]


@dataclass(frozen=True)
class Queued:
    """One fault queued at the sandbox: played on the next `times` requests to `endpoint`."""

    fault: Fault
    endpoint: Target = "cancel"
    times: int = 1


@dataclass(frozen=True)
class FaultCase:
    """A D24 misbehaviour and what the contract says every caller sees under it."""

    id: str
    faults: tuple[Queued, ...]
    status_code: int
    outcome: str
    cashout_id: int = 1001
    d24_status_after: int | None = PENDING  # None: D24 has no such cashout
    reported_status: int | None = None  # the answer's cashout_status; None: absent
    upstream_status: int | None = None  # the answer's upstream.http_status, when checked
    cancels_sent: int | None = None  # how many cancel requests D24 received, when exact

    @property
    def external_id(self) -> str:
        return f"ext-{self.cashout_id}"

    def arrange(self, d24: D24Sandbox) -> None:
        """Queue this case's faults at the sandbox."""
        for queued in self.faults:
            d24.inject(queued.fault, endpoint=queued.endpoint, times=queued.times)


def q(fault: Fault, endpoint: Target = "cancel", times: int = 1) -> tuple[Queued, ...]:
    return (Queued(fault, endpoint, times),)


def cancelled_after(name: str, faults: tuple[Queued, ...], cancels: int, **kw: Any) -> FaultCase:
    """A case where the transient fault passes and the cancel goes through."""
    return FaultCase(
        name, faults, 200, "CANCELLED", d24_status_after=CANCELLED, reported_status=CANCELLED,
        cancels_sent=cancels, **kw,
    )  # fmt: skip


def bad_200(name: str, body: bytes) -> FaultCase:
    """D24 answers 200 with something that is not a cancel confirmation (nothing applied): the
    status look-up shows it is not cancelled, and the answer says so."""
    return FaultCase(
        name, q(Fault.raw(200, body)), 502, "UPSTREAM_BAD_RESPONSE",
        reported_status=PENDING, upstream_status=200, cancels_sent=1,
    )  # fmt: skip


# D24's "no such cashout", played whatever it holds.
NOT_FOUND_509 = Fault.status(412, {"code": 509, "message": "Cashout not found with this ID"})

D24_FAULTS: tuple[FaultCase, ...] = (
    # Transient failures are retried, and the cancel goes through.
    cancelled_after("5xx-burst-500-502-then-success",
                    q(Fault.status(500)) + q(Fault.status(502)), cancels=3),
    cancelled_after("5xx-burst-503-504-then-success",
                    q(Fault.status(503)) + q(Fault.status(504)), cancels=3),
    cancelled_after("html-503-pages-then-success", q(Fault.html(503), times=2), cancels=3),
    cancelled_after("429-twice-then-success", q(Fault.status(429), times=2), cancels=3),
    cancelled_after("connection-reset-twice-then-success", q(Fault.reset(), times=2), cancels=3),
    cancelled_after("hang-past-read-timeout-then-success", q(Fault.hang()), cancels=2),
    cancelled_after("slow-answer-within-read-timeout", q(Fault.delay(0.05)), cancels=1),
    # Transient failures on every attempt: unavailable, with the status a look-up found.
    FaultCase("persistent-503", q(Fault.status(503), times=3), 502, "UPSTREAM_UNAVAILABLE",
              reported_status=PENDING, upstream_status=503, cancels_sent=3),
    FaultCase("persistent-429", q(Fault.status(429), times=3), 502, "UPSTREAM_UNAVAILABLE",
              reported_status=PENDING, upstream_status=429, cancels_sent=3),
    FaultCase("persistent-html-502-pages", q(Fault.html(502), times=3), 502,
              "UPSTREAM_UNAVAILABLE", reported_status=PENDING, upstream_status=502,
              cancels_sent=3),
    FaultCase("non-retried-501", q(Fault.status(501)), 502, "UPSTREAM_UNAVAILABLE",
              reported_status=PENDING, upstream_status=501, cancels_sent=1),
    FaultCase("persistent-connection-reset", q(Fault.reset(), times=3), 502,
              "UPSTREAM_UNAVAILABLE", reported_status=PENDING, cancels_sent=3),
    FaultCase("500-on-cancel-and-status", q(Fault.status(500), "any", times=6), 502,
              "UPSTREAM_UNAVAILABLE", upstream_status=500, cancels_sent=3),
    FaultCase("reset-on-cancel-and-status", q(Fault.reset(), "any", times=6), 502,
              "UPSTREAM_UNAVAILABLE", cancels_sent=3),
    FaultCase("hang-on-every-cancel-status-answers", q(Fault.hang(), times=3), 504,
              "UPSTREAM_TIMEOUT", reported_status=PENDING),
    # A cancel applied whose answer was lost: the status look-up tells the truth.
    cancelled_after("applied-then-connection-dropped", q(Fault.apply_then_drop()), cancels=2),
    cancelled_after("applied-then-answer-delayed-past-read-timeout",
                    q(Fault.apply_then_delay(1.0)), cancels=2),
    cancelled_after("applied-then-500", q(Fault.apply_then_status(500)), cancels=2),
    cancelled_after("applied-then-every-answer-lost", q(Fault.apply_then_drop(), times=3),
                    cancels=3),
    cancelled_after("on-hold-applied-then-dropped", q(Fault.apply_then_drop()), cancels=2,
                    cashout_id=2005),
    cancelled_after("applied-then-dropped-then-html-200",
                    q(Fault.apply_then_drop()) + q(Fault.html(200)), cancels=2),
    # Applied, and answered with a 200 that confirms nothing: the look-up shows it cancelled
    # (docs/contract.md section 4: "if it does, the answer is CANCELLED").
    cancelled_after("applied-then-garbled-200",
                    q(Fault.apply_then_status(200, {"result": "ok"})), cancels=1),
    cancelled_after("applied-then-oversized-200", q(Fault.oversized(200_000, apply=True)),
                    cancels=1),
    # Applied, answer lost, the retry refused (510), and the status endpoint failing: only a
    # retryable "unknown" is honest.
    FaultCase("applied-then-dropped-and-status-failing",
              q(Fault.apply_then_drop()) + q(Fault.status(503), "status", times=3), 502,
              "UPSTREAM_UNAVAILABLE", d24_status_after=CANCELLED, upstream_status=412,
              cancels_sent=2),
    # Answers that trickle in slower than the attempt's budget: cut off, then reconciled.
    cancelled_after("applied-then-headers-dripped", q(Fault.drip(0.15, part="headers")),
                    cancels=2),
    cancelled_after("applied-then-body-dripped", q(Fault.drip(0.15, part="body")), cancels=2),
    cancelled_after("applied-then-stalled-after-headers", q(Fault.stall_after_headers()),
                    cancels=2),
    # A body that stalls after the headers is a timeout (the request was sent), not "unavailable".
    FaultCase("stalled-after-headers-every-attempt-and-status-failing",
              q(Fault.stall_after_headers(apply=False), times=3)
              + q(Fault.status(503), "status", times=3),
              504, "UPSTREAM_TIMEOUT", cancels_sent=3),
    # Redirects are answers, never followed (credentials travel in the body).
    *(FaultCase(f"redirect-{code}", q(Fault.redirect(code)), 502, "UPSTREAM_BAD_RESPONSE",
                reported_status=PENDING, upstream_status=code, cancels_sent=1)
      for code in (301, 302, 303, 307, 308)),
    FaultCase("redirect-on-the-status-look-up-after-a-refusal",
              q(Fault.redirect(302), "status", times=3), 502, "UPSTREAM_UNAVAILABLE",
              cashout_id=2001, d24_status_after=COMPLETED, upstream_status=412, cancels_sent=1),
    FaultCase("oversized-200-nothing-applied", q(Fault.oversized(200_000)), 502,
              "UPSTREAM_BAD_RESPONSE", reported_status=PENDING, upstream_status=200,
              cancels_sent=1),
    # A lost answer does not turn a refusal into a cancel, nor a missing cashout into one.
    FaultCase("completed-answer-lost", q(Fault.apply_then_drop()), 409, "NOT_CANCELLABLE",
              cashout_id=2001, d24_status_after=COMPLETED, reported_status=COMPLETED,
              cancels_sent=2),
    FaultCase("unknown-cashout-answer-lost", q(Fault.apply_then_drop()), 404, "NOT_FOUND",
              cashout_id=UNKNOWN_CASHOUT, d24_status_after=None, cancels_sent=2),
    # A lost answer, then "no such cashout" on the retry: checked against the status, which
    # holds the cashout cancelled (or could not tell: only a retryable answer is honest).
    cancelled_after("applied-then-dropped-then-509", q(Fault.apply_then_drop()) + q(NOT_FOUND_509),
                    cancels=2),
    FaultCase("applied-then-dropped-then-509-and-status-failing",
              q(Fault.apply_then_drop()) + q(NOT_FOUND_509) + q(Fault.status(503), "status", 3),
              502, "UPSTREAM_BAD_RESPONSE", d24_status_after=CANCELLED, upstream_status=412,
              cancels_sent=2),
    # 200 answers that are not a cancel confirmation (the sandbox applied nothing).
    FaultCase("html-page-with-200", q(Fault.html(200)), 502, "UPSTREAM_BAD_RESPONSE",
              reported_status=PENDING, upstream_status=200, cancels_sent=1),
    bad_200("empty-200", b""),
    bad_200("truncated-json-200", b'{"cashout_status": 2, "cashout_status_descr'),
    bad_200("status-as-string-200", b'{"cashout_status": "2", "cashout_status_description": "x"}'),
    bad_200("json-array-200", b'[{"cashout_status": 2}]'),
    bad_200("json-null-200", b"null"),
    bad_200("pending-status-200", b'{"cashout_status": 0, "cashout_status_description": "P"}'),
    bad_200("error-body-with-200", b'{"code": 510, "message": "Invalid status transition"}'),
    # HTML error pages from a proxy or WAF in front of D24.
    FaultCase("html-403-waf-page", q(Fault.html(403), times=2), 502, "UPSTREAM_AUTH_FAILED",
              upstream_status=403, cancels_sent=2),
    FaultCase("html-404-page", q(Fault.html(404)), 502, "UPSTREAM_BAD_RESPONSE",
              reported_status=PENDING, upstream_status=404, cancels_sent=1),
    FaultCase("html-400-page", q(Fault.html(400)), 422, "UPSTREAM_REJECTED",
              upstream_status=400, cancels_sent=1),
)  # fmt: skip


@pytest.fixture(autouse=True)
def _short_read_timeout(function_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", str(READ_TIMEOUT))


def assert_outcome(entry: str, answer: Answer, status_code: int, outcome: str) -> None:
    """The contract's statusCode and outcome; an EventBridge result >= 500 is raised instead."""
    assert (answer.status_code, answer.body["outcome"]) == (status_code, outcome)
    raised = entry == "eventbridge" and status_code >= 500
    assert (answer.raised is not None) == raised, "EventBridge raises exactly the results >= 500"
    if not raised:
        assert answer.body["statusCode"] == status_code
        if status_code >= 300:
            assert isinstance(answer.body["message"], str)
            assert answer.body["message"]


def assert_d24_got_only(d24: D24Sandbox, cashout_id: int, external_id: str) -> None:
    """Every request D24 received was signed and asked about this one cashout."""
    for request in d24.received():
        assert request.signature_valid
        assert request.endpoint in ("cancel", "status")
        body = request.json()
        assert (body["cashout_id"], body["external_id"]) == (cashout_id, external_id)
        assert type(body["cashout_id"]) is int


# Cases that take over a second (--durations=0): each waits out read timeouts for four callers.
SLOW_CASES = {
    "stalled-after-headers-every-attempt-and-status-failing",
    "hang-on-every-cancel-status-answers",
    "applied-then-headers-dripped",
    "applied-then-body-dripped",
    "applied-then-stalled-after-headers",
    "applied-then-answer-delayed-past-read-timeout",
    "hang-past-read-timeout-then-success",
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.id in SLOW_CASES else [])
        for case in D24_FAULTS
    ],
)
def test_d24_fault_gets_the_contract_answer(
    case: FaultCase, invoke: Invoke, d24: D24Sandbox, subtests: pytest.Subtests
) -> None:
    # One warm function serves the four callers in turn (a fixture set-up per caller would cost
    # more than the calls); the sandbox starts afresh for each.
    for entry in ENTRIES:
        with subtests.test(entry=entry):
            # Given D24 misbehaving as the case says
            d24.reset()
            case.arrange(d24)

            # When a caller asks to cancel
            answer = send(invoke, entry, case.cashout_id, case.external_id)

            # Then it sees the contract's answer, and D24 is in the state that answer implies
            assert_case(entry, case, answer, d24)


def assert_case(entry: str, case: FaultCase, answer: Answer, d24: D24Sandbox) -> None:
    assert_outcome(entry, answer, case.status_code, case.outcome)
    assert d24.status_of(case.cashout_id) == case.d24_status_after
    if answer.raised is None:
        assert answer.body.get("cashout_status") == case.reported_status
        if "cashout_status" in answer.body:  # the message agrees with the fields beside it
            assert "could not be checked" not in answer.body.get("message", "")
        echoed = (answer.body["cashout_id"], answer.body["external_id"])
        assert echoed == (case.cashout_id, case.external_id)
        if case.upstream_status is not None:
            assert answer.body["upstream"]["http_status"] == case.upstream_status
    if case.cancels_sent is not None:
        assert len(d24.received("cancel")) == case.cancels_sent
    assert_d24_got_only(d24, case.cashout_id, case.external_id)


# The Lambda deadline: no attempt starts that cannot finish, and the handler always answers.


def handler_with(context: LambdaContext) -> Invoke:
    """Invoke the real handler with this one context, so the test can read its clock after."""
    from cashout_cancel.handler import lambda_handler

    def _invoke(event: Any) -> Any:
        return lambda_handler(event, context)

    return _invoke


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES)
def test_d24_that_never_answers_is_a_timeout_before_the_lambda_deadline(
    entry: str, d24: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a read timeout longer than the whole invocation, and D24 accepting but never answering
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", "5")
    d24.inject(Fault.hang(), endpoint="any", times=20)
    context = LambdaContext(remaining_ms=1200)

    # When a caller asks to cancel
    answer = send(handler_with(context), entry, 1001, "ext-1001")

    # Then it is told "timeout" while the invocation still has time left
    assert context.get_remaining_time_in_millis() > 0
    assert_outcome(entry, answer, 504, "UPSTREAM_TIMEOUT")
    assert d24.status_of(1001) == PENDING


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES)
def test_cancel_applied_with_answer_delayed_past_the_deadline_is_reported_cancelled(
    entry: str, d24: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given D24 applies the cancel but answers only after the invocation would have ended
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", "5")
    d24.inject(Fault.apply_then_delay(5.0))
    context = LambdaContext(remaining_ms=1200)

    # When a caller asks to cancel
    answer = send(handler_with(context), entry, 1001, "ext-1001")

    # Then the status look-up, kept time for, tells it the truth in time
    assert context.get_remaining_time_in_millis() > 0
    assert_outcome(entry, answer, 200, "CANCELLED")
    assert d24.status_of(1001) == CANCELLED


@pytest.mark.parametrize("entry", ENTRIES)
def test_no_attempt_starts_when_the_deadline_leaves_no_time_for_one(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given an invocation with less time left than the deadline margin plus one attempt
    # When a caller asks to cancel
    answer = send(invoke, entry, 1001, "ext-1001", remaining_ms=250)

    # Then nothing is sent, and the caller is told the cancel did not happen in time
    assert_outcome(entry, answer, 504, "UPSTREAM_TIMEOUT")
    assert d24.received() == []
    assert d24.status_of(1001) == PENDING


def http_date(epoch_seconds: float) -> str:
    """An HTTP date (RFC 9110 section 5.6.7, IMF-fixdate), to the whole second."""
    return format_datetime(datetime.fromtimestamp(epoch_seconds, UTC), usegmt=True)


@pytest.mark.parametrize("form", ["delta-seconds", "http-date"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_retry_after_longer_than_the_deadline_is_not_waited_for(
    entry: str, form: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given D24 throttling with a Retry-After an hour away, in either form RFC 9110 allows
    retry_after = "3600" if form == "delta-seconds" else http_date(time.time() + 3600)
    d24.inject(Fault.status(429, headers={"Retry-After": retry_after}), times=3)

    # When a caller asks to cancel
    started = time.monotonic()
    answer = send(invoke, entry, 1001, "ext-1001", remaining_ms=3000)

    # Then it is told "unavailable" at once, without a retry it could not finish
    assert time.monotonic() - started < 1.5
    assert_outcome(entry, answer, 502, "UPSTREAM_UNAVAILABLE")
    assert len(d24.received("cancel")) == 1
    assert d24.status_of(1001) == PENDING


def test_retry_after_within_the_deadline_is_honoured(invoke: Invoke, d24: D24Sandbox) -> None:
    # Given D24 throttling once and asking for 0.3 s of patience
    d24.inject(Fault.status(429, headers={"Retry-After": "0.3"}))

    # When a caller asks to cancel
    started = time.monotonic()
    answer = send(invoke, "direct", 1001, "ext-1001")

    # Then the retry waits as asked, and the cancel goes through
    assert time.monotonic() - started >= 0.3
    assert_outcome("direct", answer, 200, "CANCELLED")
    assert len(d24.received("cancel")) == 2


@pytest.mark.slow
def test_retry_after_as_an_http_date_is_waited_for(invoke: Invoke, d24: D24Sandbox) -> None:
    # Given D24 throttling once and asking, as an HTTP date, for the retry to come no earlier
    # than then (a date is whole seconds: 2 to 3 s from now)
    retry_at = math.floor(time.time()) + 3
    d24.inject(Fault.status(429, headers={"Retry-After": http_date(retry_at)}))

    # When a caller asks to cancel
    answer = send(invoke, "direct", 1001, "ext-1001", remaining_ms=10_000)

    # Then the retry is sent no earlier than that date, and the cancel goes through
    _first, retry = d24.received("cancel")
    assert retry.at >= retry_at - 0.05  # the sandbox's clock and ours may round differently
    assert_outcome("direct", answer, 200, "CANCELLED")


# A secret rotated between invocations: D24 answers 401 (or 403 for a new signing key).


def rotate(secrets: Any, *, password: str = PASSWORD, secret_key: str = SECRET_KEY) -> None:
    """Store a new version of the D24 secret in Secrets Manager."""
    value = {"login": LOGIN, "pass": password, "secret_key": secret_key}
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(value))


WarmUp = Callable[[str], None]


@pytest.fixture
def warm(invoke: Invoke) -> WarmUp:
    """Cancel cashout 1005 once, so the secret is cached as a warm container holds it."""

    def _warm(entry: str) -> None:
        assert send(invoke, entry, 1005, "ext-1005").body["outcome"] == "CANCELLED"

    return _warm


@pytest.mark.parametrize("entry", ENTRIES)
def test_secret_rotated_everywhere_is_re_read_once_and_the_cancel_goes_through(
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    secrets: Any,
    secret_reads: SecretReads,
    warm: WarmUp,
) -> None:
    # Given a warm function whose cached password D24 no longer accepts
    warm(entry)
    d24.set_credentials(password="rotated-pass")
    rotate(secrets, password="rotated-pass")
    already = len(d24.received("cancel"))

    # When a caller asks to cancel
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then the secret is read once more, the cancel retried once with it, and it goes through
    assert_outcome(entry, answer, 200, "CANCELLED")
    assert len(secret_reads) == 2
    sent = [request.json()["pass"] for request in d24.received("cancel")[already:]]
    assert sent == [PASSWORD, "rotated-pass"]
    assert d24.status_of(1001) == CANCELLED


@pytest.mark.parametrize("entry", ENTRIES)
def test_signing_key_rotated_everywhere_is_picked_up_after_one_403(
    entry: str, invoke: Invoke, d24: D24Sandbox, secrets: Any, secret_reads: SecretReads,
    warm: WarmUp,
) -> None:  # fmt: skip
    # Given a warm function whose cached signing key D24 no longer accepts (403, code 302)
    warm(entry)
    d24.set_credentials(secret_key="rotated-signing-key")
    rotate(secrets, secret_key="rotated-signing-key")

    # When a caller asks to cancel
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then the new key is read once and used
    assert_outcome(entry, answer, 200, "CANCELLED")
    assert len(secret_reads) == 2
    assert d24.status_of(1001) == CANCELLED


@pytest.mark.parametrize("entry", ENTRIES)
def test_secret_rotated_at_d24_only_fails_auth_after_exactly_one_re_read(
    entry: str, invoke: Invoke, d24: D24Sandbox, secret_reads: SecretReads, warm: WarmUp
) -> None:
    # Given a warm function, and D24 rotated while Secrets Manager still holds the old secret
    warm(entry)
    d24.set_credentials(password="rotated-at-d24-only")

    # When a caller asks to cancel
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then the secret is re-read once (no stampede, no loop) and the caller is told auth failed
    assert_outcome(entry, answer, 502, "UPSTREAM_AUTH_FAILED")
    assert len(secret_reads) == 2
    if answer.raised is None:
        assert answer.body["upstream"] == {
            "http_status": 401,
            "code": 401,
            "message": "Invalid credentials",
        }
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("entry", ENTRIES)
def test_401_on_the_status_look_up_re_reads_the_secret_and_still_reconciles(
    entry: str, invoke: Invoke, d24: D24Sandbox, secret_reads: SecretReads
) -> None:
    # Given a Completed cashout (D24 refuses with 510) and a 401 on the first status look-up
    d24.inject(Fault.status(401), endpoint="status")

    # When a caller asks to cancel it
    answer = send(invoke, entry, 2001, "ext-2001")

    # Then the look-up is retried after re-reading the secret, and answers the current status
    assert_outcome(entry, answer, 409, "NOT_CANCELLABLE")
    assert answer.body["cashout_status"] == COMPLETED
    assert len(secret_reads) == 2
    assert len(d24.received("status")) == 2


# Interim (1xx) answers are never taken for the final one (RFC 9110 section 15.2; docs/contract.md
# section 5, "Every HTTP answer is handled"), and a connection whose exchange did not end with a
# final answer read to its end is never reused: the next call would read the previous answer.

INTERIM_DELAY = 0.2  # seconds between the interim answer and D24's real one (< READ_TIMEOUT)


@pytest.mark.parametrize("interim", [102, 103])
@pytest.mark.parametrize("entry", ENTRIES)
def test_an_interim_answer_to_the_cancel_is_read_past_to_d24_s_final_answer(
    entry: str, interim: int, invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given D24 sending an interim answer, then its real ones a moment later: a refusal of the
    # Completed cashout 2001, and a confirmation for the Pending 1001
    d24.inject(Fault.interim(interim, seconds=INTERIM_DELAY), times=2)

    # When a caller asks to cancel each
    refused = send(invoke, entry, 2001, "ext-2001")
    confirmed = send(invoke, entry, 1001, "ext-1001")

    # Then each is told D24's final answer: not cancellable (status Completed), and cancelled
    # without a status look-up (the confirmation is the whole truth)
    assert_outcome(entry, refused, 409, "NOT_CANCELLABLE")
    assert_outcome(entry, confirmed, 200, "CANCELLED")
    if refused.raised is None:
        assert refused.body["cashout_status"] == COMPLETED
        assert confirmed.body["cashout_status"] == CANCELLED
    assert (d24.status_of(2001), d24.status_of(1001)) == (COMPLETED, CANCELLED)
    looked_up = [request.json()["cashout_id"] for request in d24.received("status")]
    assert looked_up == [2001]


@pytest.mark.parametrize("interim", [102, 103])
@pytest.mark.parametrize("entry", ENTRIES)
def test_an_interim_answer_to_the_status_look_up_is_read_past_and_the_next_call_reads_its_own(
    entry: str, interim: int, invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given D24 refusing the cancel of the already cancelled 2002, and its status endpoint
    # sending an interim answer before the real status 0.2 s later
    d24.inject(Fault.interim(interim, seconds=INTERIM_DELAY), endpoint="status")

    # When a caller asks to cancel 2002, and at once (warm) the Completed 2001
    first = send(invoke, entry, 2002, "ext-2002")
    second = send(invoke, entry, 2001, "ext-2001")

    # Then the first learns the real status (already cancelled), and the second gets its own
    # answer, not the first one's status left on a reused connection
    assert_outcome(entry, first, 200, "ALREADY_CANCELLED")
    assert_outcome(entry, second, 409, "NOT_CANCELLABLE")
    if second.raised is None:
        assert second.body["cashout_status"] == COMPLETED
    assert d24.status_of(2001) == COMPLETED
