"""The D24 Cashouts API v3 client: sign, send, retry within the deadline. Knows HTTP, not Lambda."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from . import __version__
from .credentials import Credentials
from .deadline import MIN_ATTEMPT_SECONDS, Deadline
from .http_session import KeepAliveAdapter, KeepAliveSession
from .outcomes import UpstreamError
from .retry import RetryPolicy, backoff_delay, is_retryable_status, jitter_draw, retry_after_seconds
from .signing import sign

USER_AGENT = f"cashout-cancel/{__version__}"
CANCEL_PATH = "/cashout/cancel"
STATUS_PATH = "/cashout/status"
_MAX_UPSTREAM_MESSAGE = 300


@dataclass(frozen=True)
class D24Answer:
    """An HTTP answer from D24 that is not to be retried. `body` is the parsed JSON or None."""

    http_status: int
    body: Any
    # An earlier attempt of this call was sent and lost its answer, or got a 5xx: may have applied.
    earlier_attempt_may_have_applied: bool = False
    # What this call sent that must never travel further (credentials, signature), should D24
    # quote any of it back in an error message.
    withheld: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def field(self, name: str) -> Any:
        """A top-level field of a JSON object body, or None."""
        return self.body.get(name) if isinstance(self.body, dict) else None

    def upstream_error(self) -> UpstreamError:
        """The facts of an error answer, for the result's `upstream` field."""
        code = self.field("code")
        message = self.field("message")
        if isinstance(message, str) and any(value in message for value in self.withheld):
            message = "(withheld: it quoted the request's credentials or signature)"
        return UpstreamError(
            http_status=self.http_status,
            code=code if isinstance(code, (int, str)) and not isinstance(code, bool) else None,
            message=message[:_MAX_UPSTREAM_MESSAGE] if isinstance(message, str) else None,
        )


class D24Unreachable(Exception):
    """No attempt got an answer worth acting on: timeouts, dropped connections, 429 or 5xx."""

    def __init__(self, timed_out: bool, may_have_applied: bool, last_answer: D24Answer | None):
        kind = "timed out" if timed_out else "unavailable"
        super().__init__(f"D24 {kind}")
        self.timed_out = timed_out  # the last failure was a timeout, or no attempt could start
        self.may_have_applied = may_have_applied  # a request was sent whose effect is unknown
        self.last_answer = last_answer  # the last 429/5xx answer, if any


def new_session(pool_size: int = 10) -> requests.Session:
    """A keep-alive session for D24: TLS verified, no proxy or netrc from the environment."""
    session = KeepAliveSession()
    # The environment can hold a .netrc or proxy settings meant for something else; D24 traffic
    # leaves through the VPC's NAT, and skipping the scan saves time on every request.
    session.trust_env = False
    # Both classes trim requests' per-call work that fixed settings make moot (http_session.py).
    adapter = KeepAliveAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class D24Client:
    """Cancel and status calls on one reused session, retried on transient failures."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        *,
        connect_timeout: float,
        read_timeout: float,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self._base_url = base_url
        self._session = session
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._policy = policy
        self._sleep = sleep
        self._on_latency = on_latency

    def cancel(
        self,
        credentials: Credentials,
        cashout_id: int,
        external_id: str,
        deadline: Deadline,
        reserve: float = 0.0,
    ) -> D24Answer:
        """DELETE /cashout/cancel, keeping `reserve` seconds of the deadline for a later call."""
        return self._call(
            "DELETE",
            CANCEL_PATH,
            credentials,
            cashout_id,
            external_id,
            deadline=deadline,
            reserve=reserve,
        )

    def status(
        self, credentials: Credentials, cashout_id: int, external_id: str, deadline: Deadline
    ) -> D24Answer:
        """POST /cashout/status."""
        return self._call(
            "POST",
            STATUS_PATH,
            credentials,
            cashout_id,
            external_id,
            deadline=deadline,
            reserve=0.0,
        )

    def _call(
        self,
        method: str,
        path: str,
        credentials: Credentials,
        cashout_id: int,
        external_id: str,
        *,
        deadline: Deadline,
        reserve: float,
    ) -> D24Answer:
        body = encode_body(credentials, cashout_id, external_id)
        signature = sign(credentials.secret_key, body)
        headers = {
            "Content-Type": "application/json",
            "Payload-Signature": signature,
            "User-Agent": USER_AGENT,
        }
        withheld = (*credentials.values(), signature)
        url = self._base_url + path
        timed_out = True  # when no attempt can start at all, the answer is "not in time"
        may_have_applied = False
        last_answer: D24Answer | None = None
        for attempt in range(1, self._policy.max_attempts + 1):
            budget = deadline.remaining() - reserve
            if budget < MIN_ATTEMPT_SECONDS:
                break
            wait_at_least = 0.0
            started = time.perf_counter()
            try:
                response = self._session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=(min(self._connect_timeout, budget), min(self._read_timeout, budget)),
                    allow_redirects=False,
                )
            except requests.exceptions.ConnectTimeout:
                timed_out = True
            except requests.exceptions.Timeout:
                timed_out, may_have_applied = True, True
            except requests.exceptions.RequestException as exc:
                timed_out = False
                may_have_applied = may_have_applied or not _never_sent(exc)
            else:
                answer = D24Answer(
                    response.status_code, _parse_json(response.content), may_have_applied, withheld
                )
                if not is_retryable_status(answer.http_status):
                    return answer
                timed_out, last_answer = False, answer
                # A 5xx may come after the cancel was applied; a 429 is refused before any work.
                may_have_applied = may_have_applied or answer.http_status >= 500
                wait_at_least = retry_after_seconds(response.headers.get("Retry-After")) or 0.0
            finally:
                if self._on_latency is not None:
                    self._on_latency((time.perf_counter() - started) * 1000)
            if attempt == self._policy.max_attempts:
                break
            delay = max(backoff_delay(attempt, self._policy, jitter_draw()), wait_at_least)
            if deadline.remaining() - reserve - delay < MIN_ATTEMPT_SECONDS:
                break
            self._sleep(delay)
        raise D24Unreachable(timed_out, may_have_applied, last_answer)


def encode_body(credentials: Credentials, cashout_id: int, external_id: str) -> bytes:
    """The exact JSON bytes sent (and signed): compact, cashout_id as a JSON integer."""
    payload = {
        "login": credentials.login,
        "pass": credentials.password,
        "cashout_id": cashout_id,
        "external_id": external_id,
    }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _parse_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    # A refused or unresolvable connection never carried the request; anything later might have.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)
