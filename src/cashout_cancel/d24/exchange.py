"""One HTTP exchange with D24 over a reused keep-alive connection pool, bounded in wall-clock
time: the answer (at most 64 KiB of it), or why there is none and whether the request may have
reached D24.

It uses requests' public pieces directly: a `PreparedRequest` and `HTTPAdapter.send` (the
adapter owns urllib3's keep-alive pool). `Session.request` adds nothing this client needs (no
cookies, auth, proxies or environment settings) and would follow redirects: credentials travel in
the body, so a redirect is never followed; a 3xx is answered like any other status.

Socket timeouts bound each read, not the exchange: a server that sends one byte every half
second keeps every read within its timeout forever. So each exchange runs under a guard with a
wall-clock deadline:

- opening a connection (DNS, TCP, TLS) runs on a worker thread (`deadline.run_within`) that the
  exchange waits for only until the deadline: Python cannot interrupt a blocked look-up or
  handshake;
- everything after (sending, the status line, headers and body) runs in the calling thread on a
  socket the watchdog thread shuts down at the deadline, which wakes any read blocked on it.

The guard reaches the connection through urllib3's public extension points: the adapter's
`init_poolmanager`, the pool manager's `pool_classes_by_scheme`, a pool's `ConnectionCls`, and the
connection's `connect`, `request` and `getresponse`; the rule on reuse below also needs the pool's
`_put_conn`, the one private method overridden (urllib3 hands a connection back by itself). Warm
calls, on a kept-alive connection, pay a few microseconds for it (docs/performance.md has what a
thread per exchange cost instead).

A connection is reused only after an exchange that ended cleanly: a final answer (never an
interim 1xx one, which http.client returns as if it were the answer unless it is a 100), read
to its end, before the guard's deadline. Any other is closed: the next exchange on it would read
the rest of this one's answer as its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

from ..deadline import TimeLimitExceeded, run_within

# D24's answers are a few hundred bytes; anything larger is not read whole (docs/contract.md section
# 5).
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


# The guard of the exchange running in this thread, for the connection deep inside urllib3.
_current_guard: contextvars.ContextVar[_Guard | None] = contextvars.ContextVar(
    "cashout_cancel_exchange_guard", default=None
)


class _Guard:
    """One exchange's deadline, and the socket to shut down when it passes."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._active = True
        self.expired = False

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        """The exchange's socket from now on; shut at once if the deadline has already passed."""
        with self._lock:
            self._socket = sock
            late = self.expired
        if late and sock is not None:
            _shut(sock)

    def expire(self) -> None:
        """The deadline passed (the watchdog's part): wake whatever blocks on the socket."""
        with self._lock:
            if not self._active:
                return
            self.expired = True
            sock = self._socket
        if sock is not None:
            _shut(sock)

    def end(self) -> None:
        """The exchange is over: its socket is never touched again from here on."""
        with self._lock:
            self._active = False


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: SSLSocket.shutdown would first drop
    # the TLS state that the reading thread is still using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One thread that expires guards whose deadline has passed."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._guards: set[_Guard] = set()
        self._waking_at: float | None = None  # the deadline the thread is sleeping until
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def guard(self, budget: float) -> Iterator[_Guard]:
        """A guard for an exchange of at most `budget` seconds, current in this thread."""
        guard = _Guard(time.monotonic() + budget)
        with self._condition:
            self._guards.add(guard)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="exchange-watchdog", daemon=True
                )
                self._thread.start()
            if self._waking_at is None or guard.deadline < self._waking_at:
                self._condition.notify()
        token = _current_guard.set(guard)
        try:
            yield guard
        finally:
            _current_guard.reset(token)
            guard.end()
            with self._condition:
                self._guards.discard(guard)

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for guard in [g for g in self._guards if g.deadline <= now]:
                    self._guards.discard(guard)
                    guard.expire()
                self._waking_at = min((g.deadline for g in self._guards), default=None)
                timeout = None if self._waking_at is None else self._waking_at - now
                self._condition.wait(timeout)


_watchdog = _Watchdog()


class _FinalAnswer(http.client.HTTPResponse):
    """http.client's response, read past every interim (1xx) answer to the final one.

    http.client skips only `100 Continue`; a 102 or 103 would come back as a complete answer
    without a body, D24's real answer still on its way (RFC 9110 section 15.2: a client reads
    past them). `begin` reads one status line and header block while no headers are set, so
    dropping an interim answer's headers and beginning again reads the next one, within the same
    socket timeout and guard. A 101 is kept: the connection would now speak another protocol (we
    never ask to switch), so it is an unclear answer and the connection is closed.
    """

    def begin(self) -> None:
        super().begin()
        while _is_interim(self.status):
            self.headers = self.msg = None  # type: ignore[assignment]
            super().begin()


def _is_interim(http_status: int) -> bool:
    return 100 <= http_status < 200 and http_status != 101


class _GuardedConnectionMixin:
    """A urllib3 connection that opens within the guard's time and shows it its socket, reads
    past interim answers, and knows whether its last exchange ended cleanly."""

    sock: socket.socket | None
    response_class: type[http.client.HTTPResponse] = _FinalAnswer
    _guard: _Guard | None = None
    _answer: Any = None  # the urllib3 response to the last request, until it is read

    def ended_cleanly(self) -> bool:
        """True when the last exchange got a final answer, read to its end, within the guard's
        time: only then is the connection fit for another request."""
        answer, guard = self._answer, self._guard
        return (
            answer is not None
            and answer.status >= 200
            and (answer.length_remaining == 0 or answer.isclosed())
            and not (guard is not None and guard.expired)
        )

    def connect(self) -> None:
        guard = _current_guard.get()
        opened = super().connect  # type: ignore[misc]
        if guard is None:
            opened()
            return
        _connect_within(self, guard, opened)
        guard.watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        guard = _current_guard.get()
        self._guard, self._answer = guard, None
        if guard is not None and self.sock is not None:  # a kept-alive connection, reused
            guard.watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        self._answer = super().getresponse()  # type: ignore[misc]
        return self._answer


def _connect_within(connection: Any, guard: _Guard, opened: Callable[[], None]) -> None:
    """Open the connection on a worker, waiting only until the guard's deadline."""
    abandoned = threading.Event()

    def open_then_check() -> None:
        opened()
        if abandoned.is_set():  # too late: nobody will use it; urllib3 has discarded it
            connection.close()

    try:
        run_within(guard.remaining(), open_then_check, abandoned.set)
    except TimeLimitExceeded:
        raise ConnectTimeoutError(connection, "opening the connection took too long") from None


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _CleanReuseMixin:
    """A pool that takes a connection back only if its exchange ended cleanly; any other is
    closed first (its slot comes back empty, and the next exchange opens a new connection).

    urllib3 hands a connection back itself once http.client has read an answer to its end, so the
    rule is kept here, where every connection comes back, not only in the exchange."""

    def _put_conn(self, conn: Any) -> None:
        if isinstance(conn, _GuardedConnectionMixin) and not conn.ended_cleanly():
            conn.close()  # type: ignore[attr-defined]  # a urllib3 connection, by ConnectionCls
        super()._put_conn(conn)  # type: ignore[misc]


class _GuardedHTTPPool(_CleanReuseMixin, HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(_CleanReuseMixin, HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter, its pools making guarded connections, each pool found once per URL.

    `HTTPAdapter.send` re-parses the URL and rebuilds urllib3's pool key on every call to find
    the same pool again; kept, that is a dictionary look-up (docs/performance.md: it decides the
    warm target). The pool is cached per URL and TLS setting until the adapter is closed (a
    SnapStart restore does that) or the pool is; either way the next request looks it up anew.
    """

    _MAX_CACHED = 16  # D24 has two URLs; the bound keeps an unexpected caller from growing it

    def __init__(self, **kwargs: Any) -> None:
        self._pools: dict[tuple[Any, ...], Any] = {}
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> Any:
        """The pool for `request`: the cached one while it is open."""
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        key = (request.url, verify, cert)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # urllib3 sets `pool` to None when it closes one
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) >= self._MAX_CACHED:
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        """Forget the cached pools, then close as HTTPAdapter does."""
        self._pools.clear()
        super().close()


class HttpExchange:
    """Sends prepared requests through one keep-alive adapter, each within its own budget."""

    def __init__(self, pool_size: int = 10) -> None:
        # Retries are the D24 client's decision (retry.py), never urllib3's.
        self._adapter = _GuardedAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        # URL -> the prepared (parsed and checked) URL: preparing the same two URLs again on
        # every call is a measurable part of a warm call (docs/performance.md).
        self._urls: dict[str, str] = {}

    @property
    def adapter(self) -> HTTPAdapter:
        """The adapter and its connection pool (closed after a SnapStart restore)."""
        return self._adapter

    def prepare(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> requests.PreparedRequest:
        """The request to send: `body` exactly as given, with `headers` and Content-Length."""
        request = requests.PreparedRequest()
        request.prepare_method(method)
        prepared_url = self._urls.get(url)
        if prepared_url is None:
            request.prepare_url(url, None)
            prepared_url = self._urls.setdefault(url, str(request.url))
        request.url = prepared_url
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
        timeouts = (min(connect_timeout, budget), min(read_timeout, budget))
        with _watchdog.guard(budget) as guard:
            try:
                response = self._adapter.send(request, stream=True, timeout=timeouts, verify=True)
            except requests.exceptions.RequestException as exc:
                raise _failure(exc, guard.expired) from None
            try:
                body, complete = _read_body(response.raw, guard)
            except (Urllib3Error, OSError, _OutOfTime) as exc:
                response.close()
                timed_out = guard.expired or isinstance(
                    exc, (_OutOfTime, Urllib3ReadTimeout, TimeoutError)
                )
                failure = Failure.TIMEOUT if timed_out else Failure.CONNECTION
                raise ExchangeFailed(failure, may_have_reached=True) from None
        # The guard has ended: the watchdog will not touch the socket any more.
        connection = response.raw.connection
        clean = isinstance(connection, _GuardedConnectionMixin) and connection.ended_cleanly()
        if complete and clean:
            response.raw.release_conn()  # a final answer read to its end: fit for the next one
        else:
            response.close()  # interim, unread, or shut down at the deadline: never reused
        return Answer(response.status_code, body, complete, response.headers.get("Retry-After"))

    def close(self) -> None:
        """Close every pooled connection (the adapter stays usable and reconnects)."""
        self._adapter.close()


class _OutOfTime(Exception):
    """The deadline passed while the body was still arriving."""


def _read_body(raw: Any, guard: _Guard) -> tuple[bytes, bool]:
    """At most MAX_ANSWER_BYTES of the body, and whether that was all of it.

    Read a piece at a time until the deadline: a server that sends one byte per read keeps every
    single read within its socket timeout, but not the whole body.
    """
    body = bytearray()
    while len(body) <= MAX_ANSWER_BYTES:
        if guard.expired or time.monotonic() >= guard.deadline:
            raise _OutOfTime
        if body and raw.length_remaining == 0:  # all of a Content-Length body is in
            return bytes(body), True
        piece = raw.read1(min(_READ_SIZE, MAX_ANSWER_BYTES + 1 - len(body)))
        if not piece:
            if guard.expired:  # an end made by the watchdog's shutdown: the rest never came
                raise _OutOfTime
            return bytes(body), True
        body += piece
    return bytes(body[:MAX_ANSWER_BYTES]), False


def _failure(exc: requests.exceptions.RequestException, expired: bool) -> ExchangeFailed:
    """What a requests exception says about the exchange."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ExchangeFailed(Failure.TIMEOUT, may_have_reached=False)
    if expired or isinstance(exc, requests.exceptions.Timeout):
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
