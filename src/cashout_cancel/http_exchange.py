"""One HTTP exchange with D24 over a reused keep-alive connection pool, bounded in wall-clock
time: the answer (at most 64 KiB of it), or why there is none and whether the request may have
reached D24.

It uses requests' public pieces directly: a `PreparedRequest` and `HTTPAdapter.send` (the
adapter owns urllib3's keep-alive pool). `Session.request` adds nothing this client needs (no
cookies, auth, proxies or environment settings) and would follow redirects: credentials travel in
the body, so a redirect is never followed; a 3xx is answered like any other status. Everything
from the DNS look-up to the last byte of the body runs within the exchange's budget
(time_limit.py), and the body is read in pieces against the same clock, so a server that drips its
answer is cut off at the budget however slowly it sends.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

from .time_limit import TimeLimitExceeded, run_within

# D24's answers are a few hundred bytes; anything larger is not read whole (CONTRACT section 5).
MAX_ANSWER_BYTES = 64 * 1024
_READ_SIZE = 16 * 1024


@dataclass(frozen=True)
class Answer:
    """What the server answered: status, the Retry-After header, and the body it sent.

    `body` holds at most MAX_ANSWER_BYTES; `complete` is False when the server sent more.
    """

    http_status: int
    body: bytes
    complete: bool = True
    retry_after: str | None = None


class Failure(Enum):
    """Why an exchange has no answer."""

    TIMEOUT = "timeout"  # no answer within the budget (or a socket timeout)
    CONNECTION = "connection"  # refused, reset, dropped, or a broken answer
    TLS_VERIFICATION = "tls-verification"  # the server's certificate was refused: not transient


class ExchangeFailed(Exception):
    """No answer. `may_have_reached` is False only when the request certainly never left."""

    def __init__(self, failure: Failure, may_have_reached: bool) -> None:
        super().__init__(f"no answer from D24 ({failure.value})")
        self.failure = failure
        self.may_have_reached = may_have_reached


class _Response:
    """The response an exchange is reading, shared by the worker and the caller.

    Only the worker closes it. When the caller gives up (the budget ran out) it marks the
    exchange abandoned and shuts the socket down for reading, which wakes a worker blocked in a
    read at once; the worker then closes the connection, which is never reused.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        self.abandoned = False

    def hold(self, response: requests.Response) -> None:
        """Keep `response` while its body is read; raises if the exchange was abandoned."""
        with self._lock:
            self._response = response
            abandoned = self.abandoned
        if abandoned:
            self.close()
            raise ExchangeFailed(Failure.TIMEOUT, may_have_reached=True)

    def abandon(self) -> None:
        """The caller stopped waiting: wake the worker if it is reading the body."""
        with self._lock:
            self.abandoned = True
            response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed, or released: nothing to wake
                response.raw.shutdown()

    def close(self) -> None:
        """Close the connection under the response (the worker's part)."""
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            # requests' Response.close closes the unread connection, then hands it back to the
            # pool, which opens a fresh one the next time it is taken.
            response.close()


class HttpExchange:
    """Sends prepared requests through one keep-alive adapter, each within its own budget."""

    def __init__(self, pool_size: int = 10) -> None:
        # Retries are the D24 client's decision (retry.py), never urllib3's.
        self._adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        # PreparedRequest per (method, URL) with the URL already parsed; copied for each request.
        self._templates: dict[tuple[str, str], requests.PreparedRequest] = {}

    @property
    def adapter(self) -> HTTPAdapter:
        """The adapter and its connection pool (closed after a SnapStart restore)."""
        return self._adapter

    def prepare(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> requests.PreparedRequest:
        """The request to send: `body` exactly as given, with `headers` and Content-Length."""
        template = self._templates.get((method, url))
        if template is None:
            template = requests.PreparedRequest()
            template.prepare(method=method, url=url)
            self._templates[(method, url)] = template
        request = template.copy()
        request.prepare_headers(headers)
        request.prepare_body(body, None)
        return request

    def send(
        self,
        request: requests.PreparedRequest,
        budget: float,
        connect_timeout: float,
        read_timeout: float,
    ) -> Answer:
        """The answer to `request` within `budget` seconds, or ExchangeFailed."""
        end = time.monotonic() + budget
        response = _Response()
        timeouts = (min(connect_timeout, budget), min(read_timeout, budget))
        try:
            return run_within(
                budget, lambda: self._exchange(request, timeouts, end, response), response.abandon
            )
        except TimeLimitExceeded as exceeded:
            raise ExchangeFailed(Failure.TIMEOUT, may_have_reached=exceeded.started) from None

    def close(self) -> None:
        """Close every pooled connection (the adapter stays usable and reconnects)."""
        self._adapter.close()

    def _exchange(
        self,
        request: requests.PreparedRequest,
        timeouts: tuple[float, float],
        end: float,
        response: _Response,
    ) -> Answer:
        try:
            sent = self._adapter.send(request, stream=True, timeout=timeouts, verify=True)
        except requests.exceptions.RequestException as exc:
            raise _failure(exc) from None
        response.hold(sent)
        try:
            body, complete = _read_body(sent.raw, end)
        except (Urllib3Error, OSError) as exc:
            response.close()
            timed_out = response.abandoned or isinstance(exc, (Urllib3ReadTimeout, TimeoutError))
            failure = Failure.TIMEOUT if timed_out else Failure.CONNECTION
            raise ExchangeFailed(failure, may_have_reached=True) from None
        except _Expired:
            response.close()
            raise ExchangeFailed(Failure.TIMEOUT, may_have_reached=True) from None
        if response.abandoned:  # woken by the caller's shutdown: what was read is not all of it
            response.close()
            raise ExchangeFailed(Failure.TIMEOUT, may_have_reached=True)
        if complete:
            sent.raw.release_conn()  # read to the end: the connection is clean for the next one
        else:
            response.close()  # the rest is never read, so the connection cannot be reused
        return Answer(sent.status_code, body, complete, sent.headers.get("Retry-After"))


class _Expired(Exception):
    """The exchange's budget ran out while the body was still arriving."""


def _read_body(raw: Any, end: float) -> tuple[bytes, bool]:
    """At most MAX_ANSWER_BYTES of the body, and whether that was all of it.

    Read a piece at a time, checking the clock between pieces: a server that sends one byte per
    read keeps every single read within its socket timeout, but not the whole body.
    """
    body = bytearray()
    while len(body) <= MAX_ANSWER_BYTES:
        if time.monotonic() >= end:
            raise _Expired
        piece = raw.read1(min(_READ_SIZE, MAX_ANSWER_BYTES + 1 - len(body)))
        if not piece:
            return bytes(body), True
        body += piece
    return bytes(body[:MAX_ANSWER_BYTES]), False


def _failure(exc: requests.exceptions.RequestException) -> ExchangeFailed:
    """What a requests exception says about the exchange."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ExchangeFailed(Failure.TIMEOUT, may_have_reached=False)
    if isinstance(exc, requests.exceptions.Timeout):
        return ExchangeFailed(Failure.TIMEOUT, may_have_reached=True)
    if isinstance(exc, requests.exceptions.SSLError) and _certificate_refused(exc):
        return ExchangeFailed(Failure.TLS_VERIFICATION, may_have_reached=False)
    # A refused or unresolvable connection never carried the request; anything later might have.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return ExchangeFailed(
        Failure.CONNECTION, may_have_reached=not isinstance(reason, NewConnectionError)
    )


def _certificate_refused(exc: BaseException) -> bool:
    """True when somewhere in the exception's causes the server's certificate was refused."""
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen or not isinstance(current, BaseException):
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(current.args)
    return False
