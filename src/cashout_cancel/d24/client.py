"""The D24 Cashouts API v3 client: sign, send, retry within the deadline. Knows HTTP, not Lambda.

A call is every attempt of one request (a cancel, or a status look-up). It reports what happened
as facts, never as a decision: the answer it stopped at, why it stopped without one, and whether
an attempt may have reached D24 and been applied. What to answer the caller is decided elsewhere
(cancel/decision.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .. import __version__
from ..credentials.secret import Credentials
from ..deadline import MIN_ATTEMPT_SECONDS, Deadline
from .answers import CASHOUT_STATUS_NAMES, CashoutStatus, UpstreamError
from .exchange import Answer, ExchangeFailed, Failure, HttpExchange
from .pace import Pace
from .redaction import Redaction
from .retry import RetryPolicy, backoff_delay, is_retryable_status, jitter_draw, retry_after_seconds
from .signing import sign

USER_AGENT = f"cashout-cancel/{__version__}"
CANCEL_PATH = "/cashout/cancel"
STATUS_PATH = "/cashout/status"
# Every string passed on from D24 (a description, a rejection code or reason, an error's code or
# message) is cut to this many characters (docs/contract.md section 4).
MAX_PASSED_ON = 300
THROTTLED = 429  # D24 throttles the merchant account


@dataclass(frozen=True)
class Reply:
    """D24's answer to one request, reduced to its facts.

    Everything here that may be passed on to a caller (the status description, the rejection
    fields, the error code and message) has been checked against every form of what the request
    held in confidence (redaction.py); the body itself is not kept.
    """

    http_status: int
    error_code: int | None = None  # D24's integer `code`, to tell "not found" from a refusal
    status: CashoutStatus | None = None  # a well-formed cashout status in a 200 answer
    upstream: UpstreamError | None = None

    @classmethod
    def of(cls, answer: Answer, redaction: Redaction) -> Reply:
        """The facts of `answer`; a body over the size limit or not a JSON object has none."""
        fields = _json_object(answer.body) if answer.complete else None
        code = fields.get("code") if fields is not None else None
        status = _cashout_status(fields, redaction) if answer.http_status == 200 else None
        confirmed = status is not None and status.is_cancelled
        return cls(
            http_status=answer.http_status,
            error_code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            status=status,
            # A confirmation is no error: nothing of it is passed on as `upstream`.
            upstream=None if confirmed else _upstream(answer.http_status, fields, redaction),
        )


class NoAnswer(Enum):
    """Why a call stopped without an answer to act on."""

    TIMED_OUT = "timed out"  # the last attempt got no answer in time, or none could start
    UNAVAILABLE = "unavailable"  # refused or dropped connections, or 429/5xx on every attempt
    TLS_REFUSED = "tls refused"  # D24's certificate failed verification: never retried


@dataclass(frozen=True)
class CallResult:
    """What one call (all the attempts of one request) came to.

    `reply` is the answer the call stopped at: a final one when `no_answer` is None, else the
    last 429/5xx answer, if any. `may_have_applied` is True when some attempt reached D24 and its
    effect is unknown (its answer was lost, or was a 5xx). `sent` counts the attempts made.
    """

    reply: Reply | None
    no_answer: NoAnswer | None
    may_have_applied: bool
    sent: int


# Runs one call (named "cancel" or "status") and returns its result: a place to observe each call
# whole (observability.d24_call_tracer makes it an X-Ray subsegment) without the client knowing.
CallTracer = Callable[[str, Callable[[], CallResult]], CallResult]


class D24Client:
    """Cancel and status calls through one reused connection pool, retried on transient failures."""

    def __init__(
        self,
        base_url: str,
        exchange: HttpExchange,
        *,
        connect_timeout: float,
        read_timeout: float,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        on_latency: Callable[[float], None] | None = None,
        withheld: Callable[[Credentials], Redaction] | None = None,
        trace: CallTracer | None = None,
    ) -> None:
        self._base_url = base_url
        self._exchange = exchange
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._policy = policy
        self._sleep = sleep
        self._on_latency = on_latency
        # What answers must withhold besides the request's own credentials: with several
        # merchant accounts, every loaded account's (docs/contract.md section 6).
        self._withheld = withheld
        self._trace = trace

    @property
    def attempt_limit(self) -> float:
        """The longest one attempt may take: connecting, then one read's worth of waiting."""
        return self._connect_timeout + self._read_timeout

    def cancel(
        self,
        credentials: Credentials,
        cashout_id: int,
        external_id: str,
        deadline: Deadline,
        reserve: float = 0.0,
        pace: Pace | None = None,
    ) -> CallResult:
        """DELETE /cashout/cancel, keeping `reserve` seconds of the deadline for a later call;
        no attempt starts before `pace` allows, and a 429 holds `pace` back."""
        return self._traced("cancel", lambda: self._call(
            "DELETE", CANCEL_PATH, credentials, cashout_id, external_id, deadline, reserve, pace
        ))  # fmt: skip

    def status(
        self,
        credentials: Credentials,
        cashout_id: int,
        external_id: str,
        deadline: Deadline,
        pace: Pace | None = None,
    ) -> CallResult:
        """POST /cashout/status, with whatever time the deadline has left, at `pace`."""
        return self._traced("status", lambda: self._call(
            "POST", STATUS_PATH, credentials, cashout_id, external_id, deadline, 0.0, pace
        ))  # fmt: skip

    def _traced(self, name: str, call: Callable[[], CallResult]) -> CallResult:
        return call() if self._trace is None else self._trace(name, call)

    def _call(
        self,
        method: str,
        path: str,
        credentials: Credentials,
        cashout_id: int,
        external_id: str,
        deadline: Deadline,
        reserve: float,
        pace: Pace | None,
    ) -> CallResult:
        pace = pace or Pace()  # unshared: only this call's own 429s hold it back
        body = encode_body(credentials, cashout_id, external_id)
        signature = sign(credentials.secret_key, body)
        headers = {
            "Content-Type": "application/json",
            "Payload-Signature": signature,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            # The 64 KiB limit is on what D24 sends; a compressed answer could expand past it.
            "Accept-Encoding": "identity",
        }
        withheld = credentials.redaction if self._withheld is None else self._withheld(credentials)
        redaction = withheld.also(signature)
        request = self._exchange.prepare(method, self._base_url + path, headers, body)
        no_answer = NoAnswer.TIMED_OUT  # when no attempt can start at all
        last_reply: Reply | None = None
        may_have_applied = False
        sent = 0
        for attempt in range(1, self._policy.max_attempts + 1):
            if not self._paced(pace, deadline, reserve):
                break
            budget = min(self.attempt_limit, deadline.remaining() - reserve)
            if budget < MIN_ATTEMPT_SECONDS:
                break
            sent += 1
            wait_at_least = 0.0
            throttled = False
            started = time.perf_counter()
            try:
                answer = self._exchange.send(
                    request, budget, self._connect_timeout, self._read_timeout
                )
            except ExchangeFailed as failed:
                may_have_applied = may_have_applied or failed.may_have_reached
                no_answer = _NO_ANSWER[failed.failure]
            else:
                reply = Reply.of(answer, redaction)
                if not is_retryable_status(reply.http_status):
                    return CallResult(reply, None, may_have_applied, sent)
                last_reply, no_answer = reply, NoAnswer.UNAVAILABLE
                # A 5xx may come after the cancel was applied; a 429 is refused before any work.
                may_have_applied = may_have_applied or reply.http_status >= 500
                wait_at_least = retry_after_seconds(answer.retry_after) or 0.0
                throttled = reply.http_status == THROTTLED
            finally:
                if self._on_latency is not None:
                    self._on_latency((time.perf_counter() - started) * 1000)
            delay = max(backoff_delay(attempt, self._policy, jitter_draw()), wait_at_least)
            if throttled:  # D24 throttles the account: every request sharing the pace waits
                pace.hold(delay)
            if attempt == self._policy.max_attempts or no_answer is NoAnswer.TLS_REFUSED:
                break
            if deadline.remaining() - reserve - delay < MIN_ATTEMPT_SECONDS:
                break
            self._sleep(delay)
        return CallResult(last_reply, no_answer, may_have_applied, sent)

    def _paced(self, pace: Pace, deadline: Deadline, reserve: float) -> bool:
        """Wait until `pace` lets a new attempt start; False, at once, when that is later than
        the deadline (less `reserve`) leaves time for an attempt."""
        while (wait := pace.wait()) > 0:  # another 429 may hold it back further meanwhile
            if deadline.remaining() - reserve - wait < MIN_ATTEMPT_SECONDS:
                return False
            self._sleep(wait)
        return True


_NO_ANSWER = {
    Failure.TIMEOUT: NoAnswer.TIMED_OUT,
    Failure.CONNECTION: NoAnswer.UNAVAILABLE,
    Failure.TLS_VERIFICATION: NoAnswer.TLS_REFUSED,
}


def encode_body(credentials: Credentials, cashout_id: int, external_id: str) -> bytes:
    """The exact JSON bytes sent (and signed): compact, cashout_id as a JSON integer."""
    payload = {
        "login": credentials.login,
        "pass": credentials.password,
        "cashout_id": cashout_id,
        "external_id": external_id,
    }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _cashout_status(fields: dict[str, Any] | None, redaction: Redaction) -> CashoutStatus | None:
    """The cashout status an answer reports, or None when it carries no well-formed one."""
    if fields is None:
        return None
    code = fields.get("cashout_status")
    if not isinstance(code, int) or isinstance(code, bool) or code < 0:
        return None
    description = _passable(redaction.scrub(fields.get("cashout_status_description")))
    return CashoutStatus(
        code=code,
        description=description
        if isinstance(description, str)
        else CASHOUT_STATUS_NAMES.get(code, "Unknown"),
        rejection_code=_passable(redaction.scrub(fields.get("rejection_code"))),
        rejection_reason=_passable(redaction.scrub(fields.get("rejection_reason"))),
    )


def _upstream(
    http_status: int, fields: dict[str, Any] | None, redaction: Redaction
) -> UpstreamError:
    code = redaction.scrub(fields.get("code")) if fields is not None else None
    message = redaction.scrub(fields.get("message")) if fields is not None else None
    return UpstreamError(
        http_status=http_status,
        code=_passable(code),
        message=message[:MAX_PASSED_ON] if isinstance(message, str) else None,
    )


def _passable(value: Any) -> int | str | None:
    """A scalar D24 sent that the result may carry (strings cut to a sane length), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return value[:MAX_PASSED_ON]
    return None
