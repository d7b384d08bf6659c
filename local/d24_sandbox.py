"""A local D24 Cashouts API v3 over real HTTP, for the tests, the demo and the benchmarks.

It checks what D24 checks, keeps cashouts in memory, records every request it receives and plays
injected faults. A request to a known endpoint goes through these steps; the first that fails
answers:

1. ``Payload-Signature`` must be the lowercase hex HMAC-SHA256 of the raw body (403, code 302);
2. an injected fault queued for the endpoint, if any, is taken and played (see ``Fault``), so
   faults only ever hit correctly signed requests;
3. ``Content-Type`` must be ``application/json`` (400, code 300);
4. the body must be a JSON object (400, code 502);
5. ``login`` and ``pass`` must match (401, code 401);
6. ``login``/``pass`` strings of at most 32 characters, ``cashout_id`` a JSON integer in int64,
   ``external_id`` a string (400, code 300);
7. the cashout must exist with that ``external_id`` (412, code 509); a cancel needs it Pending or
   On hold (412, code 510), and makes it Cancelled.

An unknown path answers 404 and a known path with another method 405, before any of that.

Several merchant accounts (CONTRACT section 11): the one built with the constructor's credentials
and any added with ``add_account``, each with its own login, pass, secret key and cashouts. A
request belongs to the account whose secret key signed it: its login and pass must be that
account's, and it sees only that account's cashouts (another account's cashout is 509).

Run it alone with ``python -m local.d24_sandbox --port 8024``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal, Self, cast

from local.loopback import LoopbackHTTPServer

# Fake credentials of the local sandbox, the defaults of D24Sandbox and of the standalone run.
SANDBOX_LOGIN: Final = "sandbox-login"
SANDBOX_PASSWORD: Final = "sandbox-pass"
SANDBOX_SECRET_KEY: Final = "sandbox-secret-key"

PENDING: Final = 0
COMPLETED: Final = 1
CANCELLED: Final = 2
REJECTED: Final = 3
DELIVERED: Final = 4
ON_HOLD: Final = 5

# D24 spells it "Canceled" in its answers.
STATUS_DESCRIPTIONS: Final[Mapping[int, str]] = MappingProxyType(
    {
        PENDING: "Pending",
        COMPLETED: "Completed",
        CANCELLED: "Canceled",
        REJECTED: "Rejected",
        DELIVERED: "Delivered",
        ON_HOLD: "On hold",
    }
)

# D24's status-update page sends merchants to the cancel endpoint to cancel an On hold cashout.
CANCELLABLE: Final = frozenset({PENDING, ON_HOLD})

CANCEL_PATH: Final = "/v3/cashout/cancel"
STATUS_PATH: Final = "/v3/cashout/status"
MAX_BODY_BYTES: Final = 64 * 1024
MAX_CREDENTIAL_LENGTH: Final = 32
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# How often the accept loop and a hanging handler look up, which bounds how long stop() takes.
_POLL_SECONDS: Final = 0.01

Endpoint = Literal["cancel", "status", "other"]
FaultTarget = Literal["cancel", "status", "any"]
FaultKind = Literal[
    "answer",
    "delay",
    "hang",
    "reset",
    "apply_then_drop",
    "apply_then_delay",
    "apply_then_answer",
    "drip",
    "stall_after_headers",
    "interim",
    "long_description",
]
# Which part of an answer a drip sends slowly: the status line and headers, or the body.
DripPart = Literal["headers", "body"]
_ROUTES: Final[Mapping[str, tuple[str, Endpoint]]] = MappingProxyType(
    {CANCEL_PATH: ("DELETE", "cancel"), STATUS_PATH: ("POST", "status")}
)


@dataclass(frozen=True)
class Cashout:
    """One cashout as the sandbox holds it."""

    external_id: str
    status: int = PENDING
    rejection_code: str | None = None
    rejection_reason: str | None = None


# Stable ids the tests, the demo and the events in events/ rely on; external_id is "ext-<id>".
SEED_CASHOUTS: Final[Mapping[int, Cashout]] = MappingProxyType(
    {
        1001: Cashout("ext-1001", PENDING),
        1002: Cashout("ext-1002", PENDING),
        1003: Cashout("ext-1003", PENDING),
        1004: Cashout("ext-1004", PENDING),
        1005: Cashout("ext-1005", PENDING),
        1006: Cashout("ext-1006", PENDING),
        1007: Cashout("ext-1007", PENDING),
        2001: Cashout("ext-2001", COMPLETED),
        2002: Cashout("ext-2002", CANCELLED),
        2003: Cashout("ext-2003", REJECTED, "R01", "Invalid account"),
        2004: Cashout("ext-2004", DELIVERED),
        2005: Cashout("ext-2005", ON_HOLD),
    }
)


@dataclass(frozen=True)
class Received:
    """One request as the sandbox received it, before any check."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    endpoint: Endpoint
    client_port: int = 0  # the client's TCP port: requests on one kept-alive connection share it
    at: float = 0.0  # when it was read, time.time(): it is not answered before at + latency
    account: str | None = None  # the added account whose key signed it; None: the first one

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name, or None."""
        return _header(self.headers, name)

    @property
    def user_agent(self) -> str | None:
        """The User-Agent header D24 requires, or None."""
        return self.header("User-Agent")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, body bytes, content type and extra headers."""

    http_status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _json_answer(http_status: int, payload: object, headers: Mapping[str, str] | None) -> Answer:
    body = json.dumps(payload).encode("utf-8")
    return Answer(http_status, body, headers=tuple((headers or {}).items()))


def _error(http_status: int, code: int, message: str) -> Answer:
    return _json_answer(http_status, {"code": code, "message": message}, None)


_INVALID_SIGNATURE: Final = _error(403, 302, "Invalid signature")
_INVALID_BODY: Final = _error(400, 502, "Invalid request body")
_INVALID_CREDENTIALS: Final = _error(401, 401, "Invalid credentials")
_INVALID_PARAMS: Final = _error(400, 300, "Invalid params")
_NOT_FOUND: Final = _error(412, 509, "Cashout not found with this ID")
_INVALID_TRANSITION: Final = _error(412, 510, "Invalid status transition")
_ROUTE_NOT_FOUND: Final = _error(404, 404, "Not found")
_LENGTH_REQUIRED: Final = _error(411, 502, "Invalid request body")
_TOO_LARGE: Final = _error(413, 502, "Invalid request body")
# D24's own error bodies for the statuses it documents; other statuses get the HTTP phrase.
_D24_ERROR_BODIES: Final[Mapping[int, Answer]] = MappingProxyType(
    {400: _INVALID_PARAMS, 401: _INVALID_CREDENTIALS, 403: _INVALID_SIGNATURE}
)

_HTML_PAGE: Final = (
    b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Our site is under maintenance</h1><p>Please try again later.</p></body></html>\n"
)


def _fault_answer(
    http_status: int, body: object | None, headers: Mapping[str, str] | None
) -> Answer:
    if body is not None:
        return _json_answer(http_status, body, headers)
    known = _D24_ERROR_BODIES.get(http_status)
    if known is not None:
        return replace(known, headers=tuple((headers or {}).items()))
    try:
        phrase = HTTPStatus(http_status).phrase
    except ValueError:
        phrase = "Error"
    return _json_answer(http_status, {"code": http_status, "message": phrase}, headers)


@dataclass(frozen=True)
class Fault:
    """A misbehaviour to play on one request; build it with the class methods below.

    A queued fault fires on the next correctly signed request to its endpoint, whatever that
    request asks. "Apply" means the request is processed normally (a cancel takes effect; a status
    look-up has nothing to apply), then its answer, whatever it is, is lost, delayed or replaced.
    """

    kind: FaultKind
    answer: Answer | None = None
    seconds: float = 0.0
    apply: bool = True  # for drip and stall_after_headers: process first, then play the answer
    part: DripPart = "body"
    # For an oversized applied answer: bytes of whitespace before the real one; for a long
    # description: the length the status description is given.
    padding: int = 0

    @classmethod
    def status(
        cls,
        http_status: int,
        body: object | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer `http_status` without applying; `body` is JSON-encoded, default D24-like."""
        return cls("answer", _fault_answer(http_status, body, headers))

    @classmethod
    def html(cls, http_status: int = 200) -> Fault:
        """Answer an HTML page (a proxy or maintenance page) without applying."""
        return cls("answer", Answer(http_status, _HTML_PAGE, "text/html; charset=utf-8"))

    @classmethod
    def raw(
        cls, http_status: int, body_bytes: bytes, content_type: str = "application/json"
    ) -> Fault:
        """Answer exactly `body_bytes` (empty, truncated, wrong JSON) without applying."""
        return cls("answer", Answer(http_status, body_bytes, content_type))

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep `seconds`, then process and answer normally."""
        return cls("delay", seconds=_non_negative(seconds))

    @classmethod
    def hang(cls) -> Fault:
        """Read the request and never answer, until the client closes or the sandbox stops."""
        return cls("hang")

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection with a TCP RST, without applying or answering."""
        return cls("reset")

    @classmethod
    def apply_then_drop(cls) -> Fault:
        """Apply, then close the connection with a TCP RST instead of answering."""
        return cls("apply_then_drop")

    @classmethod
    def apply_then_delay(cls, seconds: float) -> Fault:
        """Apply at once, then answer only after `seconds`."""
        return cls("apply_then_delay", seconds=_non_negative(seconds))

    @classmethod
    def drip(cls, interval: float, part: DripPart = "body", apply: bool = True) -> Fault:
        """Send the answer one byte every `interval` seconds: its status line and headers
        (`part="headers"`, the body then at once) or its body (`part="body"`, headers at once).

        With `apply` the request is processed first and its real answer dripped (D24 slow to
        answer); without, nothing is applied and a 503 is dripped (a sick proxy in front)."""
        return cls("drip", _PROXY_UNAVAILABLE, _non_negative(interval), apply, part)

    @classmethod
    def stall_after_headers(cls, apply: bool = True) -> Fault:
        """Send the status line and headers of the answer, then nothing, until the client closes.

        With `apply` the request is processed first (its effect is real, its answer never ends)."""
        return cls("stall_after_headers", _PROXY_UNAVAILABLE, apply=apply)

    @classmethod
    def redirect(
        cls, http_status: int = 302, location: str = "https://elsewhere.example/v3/cashout/cancel"
    ) -> Fault:
        """Answer a redirect to `location` without applying (a misrouted proxy or load balancer)."""
        body = json.dumps({"message": "Moved"}).encode()
        return cls("answer", Answer(http_status, body, headers=(("Location", location),)))

    @classmethod
    def oversized(cls, size: int, apply: bool = False) -> Fault:
        """Answer 200 with a body of `size` bytes: `size` bytes of JSON whitespace and then the
        real answer when `apply` (valid JSON, only readable whole), else filler with no answer."""
        if apply:
            return cls("apply_then_answer", padding=size)
        return cls("answer", Answer(200, b" " * size + b'{"note": "no answer here"}'))

    @classmethod
    def interim(cls, http_status: int = 103, seconds: float = 0.0) -> Fault:
        """Send an interim 1xx answer (103 Early Hints with a Link header, 102 Processing...)
        at once, then process normally and send the real answer `seconds` later."""
        if not 100 <= http_status < 200:
            raise ValueError(f"an interim answer is 1xx, got {http_status}")
        headers = (("Link", "</v3/docs>; rel=preload"),) if http_status == 103 else ()
        return cls("interim", Answer(http_status, b"", headers=headers), _non_negative(seconds))

    @classmethod
    def long_description(cls, length: int) -> Fault:
        """Process normally, and answer with the status description (when the answer carries
        one) lengthened to `length` characters: still the true status, in many words."""
        return cls("long_description", padding=length)

    @classmethod
    def apply_then_status(
        cls,
        http_status: int,
        body: object | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Apply, then answer `http_status` (body as in `Fault.status`) instead of the result."""
        return cls("apply_then_answer", _fault_answer(http_status, body, headers))


_PROXY_UNAVAILABLE: Final = _json_answer(503, {"code": 503, "message": "Service Unavailable"}, None)


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return seconds


@dataclass
class _Account:
    """An account added with `D24Sandbox.add_account`: its credentials and its own cashouts."""

    login: str
    password: str
    secret_key: str
    cashouts: dict[int, Cashout]


def _status_payload(cashout: Cashout) -> dict[str, object]:
    payload: dict[str, object] = {
        "cashout_status": cashout.status,
        "cashout_status_description": STATUS_DESCRIPTIONS.get(cashout.status, "Unknown"),
    }
    if cashout.rejection_code is not None:
        payload["rejection_code"] = cashout.rejection_code
    if cashout.rejection_reason is not None:
        payload["rejection_reason"] = cashout.rejection_reason
    return payload


def _with_long_description(answer: Answer, length: int) -> Answer:
    """`answer` with its cashout_status_description padded to `length` characters, if it has one."""
    try:
        payload = json.loads(answer.body)
    except ValueError:
        return answer
    description = payload.get("cashout_status_description") if isinstance(payload, dict) else None
    if not isinstance(description, str):
        return answer
    padded = (description + " ") + "." * max(0, length - len(description) - 1)
    return _json_answer(
        answer.http_status, {**payload, "cashout_status_description": padded[:length]}, None
    )


def _valid_params(payload: Mapping[str, object]) -> tuple[int, str] | None:
    login, password = payload.get("login"), payload.get("pass")
    cashout_id, external_id = payload.get("cashout_id"), payload.get("external_id")
    credentials_ok = all(
        isinstance(value, str) and len(value) <= MAX_CREDENTIAL_LENGTH
        for value in (login, password)
    )
    # bool is an int in Python but not a JSON integer.
    if isinstance(cashout_id, bool) or not isinstance(cashout_id, int):
        return None
    if not (credentials_ok and _INT64_MIN <= cashout_id <= _INT64_MAX):
        return None
    return (cashout_id, external_id) if isinstance(external_id, str) else None


class D24Sandbox:
    """The sandbox server; `with D24Sandbox() as d24:` starts it and stops it."""

    def __init__(
        self,
        login: str = SANDBOX_LOGIN,
        password: str = SANDBOX_PASSWORD,
        secret_key: str = SANDBOX_SECRET_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: bool = True,
        verbose: bool = False,
        latency: float = 0.0,
    ) -> None:
        self._initial_credentials = (login, password, secret_key)
        self._login, self._password, self._secret_key = login, password, secret_key
        self._host, self._requested_port = host, port
        self._seed = seed
        self.verbose = verbose
        # Seconds every request to a known endpoint waits before it is served: a round trip
        # from an AWS region to D24, for the benchmark and the in-flight tests.
        self.latency = _non_negative(latency)
        self._in_flight = 0
        self._in_flight_peak = 0
        self._lock = threading.Lock()
        self._cashouts: dict[int, Cashout] = dict(SEED_CASHOUTS) if seed else {}
        self._accounts: dict[str, _Account] = {}  # added merchant accounts, by name
        self._faults: list[tuple[Fault, FaultTarget]] = []
        self._received: list[Received] = []
        self._played: list[tuple[Endpoint, Fault]] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # Lifecycle

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("D24Sandbox is already started; a stopped one cannot restart")
        self._server = _Server((self._host, self._requested_port), self)
        self._port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"d24-sandbox-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; wakes delayed and hanging handlers."""
        server = self._server
        if server is None or self._stopping.is_set():
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        # Wakes handler threads blocked reading an idle keep-alive connection.
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    def __enter__(self) -> Self:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when constructed with port=0)."""
        if self._port is None:
            raise RuntimeError("D24Sandbox is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The D24 base URL to configure the client with, e.g. http://127.0.0.1:8024/v3."""
        return f"http://{self._host}:{self.port}/v3"

    # State

    @property
    def credentials(self) -> dict[str, str]:
        """The current credentials, shaped like the Secrets Manager SecretString."""
        with self._lock:
            return {"login": self._login, "pass": self._password, "secret_key": self._secret_key}

    def set_credentials(
        self,
        *,
        login: str | None = None,
        password: str | None = None,
        secret_key: str | None = None,
        account: str | None = None,
    ) -> None:
        """Rotate credentials (of an added `account`, or the first one); the old ones fail from
        the next request on. None keeps a value."""
        with self._lock:
            if account is not None:
                added = self._accounts[account]
                added.login = added.login if login is None else login
                added.password = added.password if password is None else password
                added.secret_key = added.secret_key if secret_key is None else secret_key
                return
            self._login = self._login if login is None else login
            self._password = self._password if password is None else password
            self._secret_key = self._secret_key if secret_key is None else secret_key

    def add_account(self, account: str, *, login: str, password: str, secret_key: str) -> None:
        """Add a merchant account with its own credentials and no cashouts (`add_cashout` with
        `account=` gives it some). Each account needs its own secret key: the key that signed a
        request tells whose it is."""
        with self._lock:
            keys = {self._secret_key} | {a.secret_key for a in self._accounts.values()}
            if account in self._accounts or secret_key in keys:
                raise ValueError(f"account {account!r} or its secret key is taken")
            self._accounts[account] = _Account(login, password, secret_key, {})

    def credentials_of(self, account: str) -> dict[str, str]:
        """An added account's current credentials, shaped like the SecretString."""
        with self._lock:
            added = self._accounts[account]
            return {"login": added.login, "pass": added.password, "secret_key": added.secret_key}

    def add_cashout(
        self,
        cashout_id: int,
        external_id: str,
        status: int = PENDING,
        rejection_code: str | None = None,
        rejection_reason: str | None = None,
        account: str | None = None,
    ) -> None:
        """Create or replace a cashout (of an added `account`, or of the first one)."""
        with self._lock:
            self._cashouts_of(account)[cashout_id] = Cashout(
                external_id, status, rejection_code, rejection_reason
            )

    def status_of(self, cashout_id: int, account: str | None = None) -> int | None:
        """A cashout's current status code (in an added `account`, or in the first one), or
        None when that account has no such cashout."""
        with self._lock:
            cashout = self._cashouts_of(account).get(cashout_id)
        return None if cashout is None else cashout.status

    def _cashouts_of(self, account: str | None) -> dict[int, Cashout]:
        return self._cashouts if account is None else self._accounts[account].cashouts

    def reset(self) -> None:
        """Back to construction state: seed cashouts, initial credentials, no added accounts, no
        faults, empty log."""
        with self._lock:
            self._cashouts = dict(SEED_CASHOUTS) if self._seed else {}
            self._accounts.clear()
            self._login, self._password, self._secret_key = self._initial_credentials
            self._faults.clear()
            self._received.clear()
            self._played.clear()
            self._in_flight_peak = self._in_flight

    def interrupt(self, timeout: float = 2.0) -> None:
        """End every request still being served (delayed, hanging, dripping), as stop() does,
        and go on serving: a sandbox shared by tests, between two of them."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        self._stopping.clear()

    # Load

    @property
    def in_flight_peak(self) -> int:
        """The most requests to known endpoints that were being served at once so far."""
        with self._lock:
            return self._in_flight_peak

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._in_flight_peak = max(self._in_flight_peak, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # Request log

    def received(self, endpoint: Endpoint | None = None) -> list[Received]:
        """A copy of the requests received so far, oldest first, optionally of one endpoint."""
        with self._lock:
            return [r for r in self._received if endpoint is None or r.endpoint == endpoint]

    @property
    def requests(self) -> list[Received]:
        """Every request received so far, oldest first (same as `received()`)."""
        return self.received()

    # Faults

    def inject(self, fault: Fault, endpoint: FaultTarget = "cancel", times: int = 1) -> None:
        """Queue `fault` for the next `times` signed requests to `endpoint` (or "any")."""
        if endpoint not in ("cancel", "status", "any"):
            raise ValueError(f"endpoint must be 'cancel', 'status' or 'any', got {endpoint!r}")
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.extend([(fault, endpoint)] * times)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many queued faults have not fired yet."""
        with self._lock:
            return len(self._faults)

    # Used by the request handler

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes, client_port: int
    ) -> Received:
        route = _ROUTES.get(path.split("?", 1)[0])
        endpoint: Endpoint = route[1] if route is not None and route[0] == method else "other"
        provided = _header(headers, "Payload-Signature") or ""
        with self._lock:
            keys = {None: self._secret_key} | {n: a.secret_key for n, a in self._accounts.items()}
            signed_by = [account for account, key in keys.items() if _signs(key, body, provided)]
            record = Received(
                method, path, headers, body, bool(signed_by), endpoint, client_port, time.time(),
                account=signed_by[0] if signed_by else None,
            )  # fmt: skip
            self._received.append(record)
        return record

    def played(self, endpoint: Endpoint | None = None) -> list[Fault]:
        """The faults played so far, oldest first, optionally on one endpoint's requests."""
        with self._lock:
            return [f for e, f in self._played if endpoint is None or e == endpoint]

    def _take_fault(self, endpoint: Endpoint) -> Fault | None:
        with self._lock:
            for index, (fault, target) in enumerate(self._faults):
                if target in (endpoint, "any"):
                    del self._faults[index]
                    self._played.append((endpoint, fault))
                    return fault
        return None

    def _process(
        self, endpoint: Endpoint, content_type: str, body: bytes, account: str | None = None
    ) -> Answer:
        if content_type != "application/json":
            return _INVALID_PARAMS
        try:
            payload: object = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _INVALID_BODY
        if not isinstance(payload, dict):
            return _INVALID_BODY
        with self._lock:
            login, password, cashouts = self._login, self._password, self._cashouts
            if account is not None:
                added = self._accounts.get(account)
                if added is None:  # gone with a reset since the request was read
                    return _INVALID_CREDENTIALS
                login, password, cashouts = added.login, added.password, added.cashouts
            if payload.get("login") != login or payload.get("pass") != password:
                return _INVALID_CREDENTIALS
            params = _valid_params(payload)
            if params is None:
                return _INVALID_PARAMS
            cashout_id, external_id = params
            cashout = cashouts.get(cashout_id)
            if cashout is None or cashout.external_id != external_id:
                return _NOT_FOUND
            if endpoint == "status":
                return _json_answer(200, _status_payload(cashout), None)
            if cashout.status not in CANCELLABLE:
                return _INVALID_TRANSITION
            cancelled = replace(cashout, status=CANCELLED)
            cashouts[cashout_id] = cancelled
        return _json_answer(200, _status_payload(cancelled), None)


def _signs(secret_key: str, body: bytes, provided: str) -> bool:
    """True when `provided` is the signature of `body` with `secret_key`."""
    expected = hmac.new(secret_key.encode("utf-8"), body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses non-ASCII str, and header values may be any.
    return hmac.compare_digest(expected.encode("ascii"), provided.encode("latin-1", "replace"))


def _phrase(http_status: int) -> str:
    try:
        return HTTPStatus(http_status).phrase
    except ValueError:
        return "Status"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


class _Server(LoopbackHTTPServer):
    def __init__(self, address: tuple[str, int], sandbox: D24Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        # Clients that time out or reset mid-request are the point of the faults, not errors.
        if self.sandbox.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 with Content-Length on every answer keeps the client's Session connections alive.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds 40 ms.
    disable_nagle_algorithm = True
    server_version = "D24Sandbox/1.0"
    _drop = False

    @property
    def _sandbox(self) -> D24Sandbox:
        return cast(_Server, self.server).sandbox

    def setup(self) -> None:
        super().setup()
        with self._sandbox._lock:
            self._sandbox._connections.add(self.connection)

    def finish(self) -> None:
        with self._sandbox._lock:
            self._sandbox._connections.discard(self.connection)
        if not self._drop:
            super().finish()
            return
        # rfile holds a reference that would keep the socket open past close().
        self.rfile.close()
        self.wfile.close()
        # Linger 0: close() sends a RST, so the client sees a reset, not a clean end.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        if self._sandbox.verbose:
            super().log_message(format, *args)

    def do_DELETE(self) -> None:
        self._dispatch()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE

    def _dispatch(self) -> None:
        body = self._read_body()
        headers = dict(self.headers.items())
        record = self._sandbox._record(
            self.command, self.path, headers, body or b"", self.client_address[1]
        )
        route = _ROUTES.get(self.path.split("?", 1)[0])
        if body is None:
            pass  # _read_body answered, or the client is gone
        elif route is None:
            self._send(_ROUTE_NOT_FOUND)
        elif record.endpoint == "other":
            self._send(
                replace(_error(405, 405, "Method not allowed"), headers=(("Allow", route[0]),))
            )
        elif not record.signature_valid:
            self._send(_INVALID_SIGNATURE)
        else:
            self._sandbox._enter()
            try:
                if self._sleep(self._sandbox.latency):
                    self._serve(record.endpoint, body, record.account)
            finally:
                self._sandbox._leave()

    def _serve(self, endpoint: Endpoint, body: bytes, account: str | None = None) -> None:
        fault = self._sandbox._take_fault(endpoint)
        if fault is not None and not self._play_before(fault):
            return
        if fault is not None and fault.kind in ("drip", "stall_after_headers") and not fault.apply:
            self._play_after(fault, fault.answer or _PROXY_UNAVAILABLE)
            return
        answer = self._sandbox._process(endpoint, self.headers.get_content_type(), body, account)
        if fault is None:
            self._send(answer)
        else:
            self._play_after(fault, answer)

    def _read_body(self) -> bytes | None:
        """The request body, or None when it cannot be read (answered, or the client left)."""
        if "Transfer-Encoding" in self.headers:
            self._send_and_close(_LENGTH_REQUIRED)
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._send_and_close(_INVALID_BODY)
            return None
        if length > MAX_BODY_BYTES:
            self._send_and_close(_TOO_LARGE)
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _play_before(self, fault: Fault) -> bool:
        """Play the part of `fault` that comes before processing; False ends the request."""
        if fault.kind == "answer" and fault.answer is not None:
            self._send(fault.answer)
            return False
        if fault.kind == "reset":
            self._abort()
            return False
        if fault.kind == "hang":
            self._wait_for_client_close()
            self._abort()
            return False
        if fault.kind == "delay":
            return self._sleep(fault.seconds)
        interim = fault.answer if fault.kind == "interim" else None
        if interim is not None and not self._write_slowly(self._interim_head(interim), 0.0):
            self._abort()
            return False
        return True

    def _play_after(self, fault: Fault, answer: Answer) -> None:
        if fault.kind == "apply_then_drop":
            self._abort()
        elif fault.kind in ("apply_then_delay", "interim"):
            if self._sleep(fault.seconds):
                self._send(answer)
        elif fault.kind == "long_description":
            self._send(_with_long_description(answer, fault.padding))
        elif fault.kind == "apply_then_answer" and fault.padding:
            self._send(replace(answer, body=b" " * fault.padding + answer.body))
        elif fault.kind == "apply_then_answer" and fault.answer is not None:
            self._send(fault.answer)
        elif fault.kind == "drip":
            self._drip(answer, fault.seconds, fault.part)
        elif fault.kind == "stall_after_headers":
            self._write_slowly(self._head(answer), 0.0)
            self._wait_for_client_close()
            self._abort()
        else:
            self._send(answer)

    def _head(self, answer: Answer) -> bytes:
        """The status line and headers of `answer`, as `_send` would write them."""
        lines = [
            f"{self.protocol_version} {answer.http_status} {_phrase(answer.http_status)}",
            f"Server: {self.version_string()}",
            f"Content-Type: {answer.content_type}",
            f"Content-Length: {len(answer.body)}",
            *(f"{name}: {value}" for name, value in answer.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _interim_head(self, answer: Answer) -> bytes:
        """An interim (1xx) answer: its status line and headers, no body (RFC 9110 15.2)."""
        lines = [
            f"{self.protocol_version} {answer.http_status} {_phrase(answer.http_status)}",
            *(f"{name}: {value}" for name, value in answer.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _drip(self, answer: Answer, interval: float, part: DripPart) -> None:
        head, body = self._head(answer), answer.body
        if part == "headers":
            done = self._write_slowly(head, interval) and self._write_slowly(body, 0.0)
        else:
            done = self._write_slowly(head, 0.0) and self._write_slowly(body, interval)
        if not done:
            self._abort()

    def _write_slowly(self, data: bytes, interval: float) -> bool:
        """Write `data`, one byte every `interval` seconds (all at once for 0); False when the
        client left or the sandbox stopped first."""
        try:
            if interval <= 0:
                self.wfile.write(data)
                return True
            for index in range(len(data)):
                if self._sandbox._stopping.wait(interval):
                    return False
                self.wfile.write(data[index : index + 1])
        except OSError:
            return False
        return True

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the sandbox stops first; then drop the connection and return False."""
        if self._sandbox._stopping.wait(seconds):
            self._abort()
            return False
        return True

    def _wait_for_client_close(self) -> None:
        stopping = self._sandbox._stopping
        # A short timeout rather than select(), which fails on descriptors above 1023.
        self.connection.settimeout(_POLL_SECONDS)
        while not stopping.is_set():
            try:
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return
            # Bytes of a further request: keep hanging, without spinning on them.
            stopping.wait(_POLL_SECONDS)

    def _abort(self) -> None:
        self._drop = True
        self.close_connection = True

    def _send_and_close(self, answer: Answer) -> None:
        self.close_connection = True
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.http_status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description="A local D24 Cashouts API v3 sandbox.")
    parser.add_argument("--port", type=int, default=8024, help="TCP port (0 picks a free one)")
    parser.add_argument("--login", default=SANDBOX_LOGIN)
    parser.add_argument("--password", default=SANDBOX_PASSWORD)
    parser.add_argument("--secret-key", default=SANDBOX_SECRET_KEY)
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    sandbox = D24Sandbox(
        login=args.login,
        password=args.password,
        secret_key=args.secret_key,
        port=args.port,
        verbose=args.verbose,
        latency=args.latency,
    ).start()
    try:
        print(f"D24 sandbox listening on {sandbox.base_url}", flush=True)
        print(f"credentials (SecretString): {json.dumps(sandbox.credentials)}")
        print("seeded cashouts:")
        for cashout_id, cashout in SEED_CASHOUTS.items():
            description = STATUS_DESCRIPTIONS[cashout.status]
            print(f"  {cashout_id}  external_id={cashout.external_id}  {description}")
        print("Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
