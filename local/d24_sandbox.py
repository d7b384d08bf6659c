"""A local D24 Cashouts API v3 over real HTTP: it keeps cashouts in memory, records requests,
plays injected faults (`Fault`) and checks what D24 checks, answering as D24 at the first failure:
path (404), method (405), signature, the lowercase hex HMAC-SHA256 of the raw body (403, code
302); then a queued fault plays; content type (400, code 300), a JSON object (400, code 502),
credentials (401), parameters (400, code 300), the cashout with that external_id (412, code 509)
and, to cancel, Pending or On hold (412, code 510). A request belongs to the merchant account
(docs/contract.md section 11) whose secret key signed it, and sees only its cashouts."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from http.client import responses
from typing import Any, Final, Literal, Self, cast

from local.loopback import LoopbackHandler, LoopbackHTTPServer

# Fake credentials of the local sandbox, D24Sandbox's defaults.
SANDBOX_LOGIN: Final = "sandbox-login"
SANDBOX_PASSWORD: Final = "sandbox-pass"
SANDBOX_SECRET_KEY: Final = "sandbox-secret-key"

PENDING, COMPLETED, CANCELLED, REJECTED, DELIVERED, ON_HOLD = range(6)
# D24 spells it "Canceled" in its answers.
STATUS_DESCRIPTIONS: Final[Mapping[int, str]] = dict(
    enumerate(("Pending", "Completed", "Canceled", "Rejected", "Delivered", "On hold"))
)
# D24's status-update page sends merchants to the cancel endpoint to cancel an On hold cashout.
CANCELLABLE: Final = frozenset({PENDING, ON_HOLD})

MAX_CREDENTIAL_LENGTH: Final = 32
_INT64: Final = range(-(2**63), 2**63)
# How often a hanging handler looks up, which bounds how long stop() takes.
_POLL_SECONDS: Final = 0.01
# SO_LINGER on with 0 seconds: close() sends a RST, so the client sees a reset, not a clean end.
_RESET_ON_CLOSE: Final = struct.pack("ii", 1, 0)

Endpoint = Literal["cancel", "status", "other"]
FaultTarget = Literal["cancel", "status", "any"]
_ROUTES: Final[Mapping[str, tuple[str, Endpoint]]] = {
    "/v3/cashout/cancel": ("DELETE", "cancel"),
    "/v3/cashout/status": ("POST", "status"),
}


@dataclass(frozen=True)
class Cashout:
    """One cashout as the sandbox holds it."""

    external_id: str
    status: int = PENDING
    rejection_code: str | None = None
    rejection_reason: str | None = None


# Stable ids the tests, the demo and the events in events/ rely on; external_id is "ext-<id>".
SEED_CASHOUTS: Final[Mapping[int, Cashout]] = {
    **{n: Cashout(f"ext-{n}") for n in range(1001, 1008)},
    2001: Cashout("ext-2001", COMPLETED),
    2002: Cashout("ext-2002", CANCELLED),
    2003: Cashout("ext-2003", REJECTED, "R01", "Invalid account"),
    2004: Cashout("ext-2004", DELIVERED),
    2005: Cashout("ext-2005", ON_HOLD),
}


@dataclass(frozen=True)
class Received:
    """One request as the sandbox received it, before any check."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool
    endpoint: Endpoint
    client_port: int  # requests on one kept-alive connection share it
    at: float  # when it was read, time.time(): it is not answered before at + latency
    account: str | None  # the added account whose key signed it; None: the first one

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name, or None."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

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


def _error(http_status: int, code: int, message: str) -> Answer:
    return Answer(http_status, json.dumps({"code": code, "message": message}).encode())


_INVALID_SIGNATURE: Final = _error(403, 302, "Invalid signature")
_INVALID_BODY: Final = _error(400, 502, "Invalid request body")
_INVALID_CREDENTIALS: Final = _error(401, 401, "Invalid credentials")
_INVALID_PARAMS: Final = _error(400, 300, "Invalid params")
_NOT_FOUND: Final = _error(412, 509, "Cashout not found with this ID")
_INVALID_TRANSITION: Final = _error(412, 510, "Invalid status transition")
_PROXY_UNAVAILABLE: Final = _error(503, 503, "Service Unavailable")
# D24's own error bodies for the statuses it documents; other statuses get the HTTP phrase.
_D24_ERROR_BODIES: Final = {
    a.http_status: a for a in (_INVALID_PARAMS, _INVALID_CREDENTIALS, _INVALID_SIGNATURE)
}
_ELSEWHERE: Final = "https://elsewhere.example/v3/cashout/cancel"
_HTML_PAGE: Final = b"<!DOCTYPE html>\n<html><body><h1>Under maintenance</h1></body></html>\n"


def _fault_answer(status: int, body: object | None, headers: Mapping[str, str] | None) -> Answer:
    answer = _D24_ERROR_BODIES.get(status, _error(status, status, responses.get(status, "Error")))
    if body is not None:
        answer = Answer(status, json.dumps(body).encode())
    return replace(answer, headers=tuple((headers or {}).items()))


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for a signed request (use the class methods): `sleep`, send the `early` 1xx,
    process the request if `apply` (description padded to `describe`, body after `padding` spaces),
    then `answer` or the real one, if any, is sent `seconds` later, dropped (a reset), dripped a
    byte every `seconds` (its `part`) or stalled after its head, as `then` says."""

    apply: bool = True
    answer: Answer | None = None
    then: Literal["send", "drop", "drip", "stall"] = "send"
    seconds: float = 0.0
    sleep: float = 0.0
    early: Answer | None = None
    part: Literal["headers", "body"] = "body"
    padding: int = 0
    describe: int = 0

    @classmethod
    def status(
        cls, http_status: int, body: object | None = None, headers: Mapping[str, str] | None = None
    ) -> Fault:
        """Answer `http_status` without applying; `body` is JSON-encoded, default D24-like."""
        return cls(apply=False, answer=_fault_answer(http_status, body, headers))

    @classmethod
    def apply_then_status(cls, http_status: int, body: object | None = None) -> Fault:
        """Apply, then answer `http_status` (body as in `Fault.status`) instead of the result."""
        return cls(answer=_fault_answer(http_status, body, None))

    @classmethod
    def html(cls, http_status: int = 200) -> Fault:
        """Answer an HTML page (a proxy or maintenance page) without applying."""
        return cls(False, Answer(http_status, _HTML_PAGE, "text/html; charset=utf-8"))

    @classmethod
    def raw(cls, http_status: int, body: bytes) -> Fault:
        """Answer exactly `body` as JSON (empty, truncated, wrong) without applying."""
        return cls(False, Answer(http_status, body))

    @classmethod
    def redirect(cls, http_status: int = 302, location: str = _ELSEWHERE) -> Fault:
        """Answer a redirect to `location` without applying (a misrouted proxy)."""
        moved = Answer(http_status, b'{"message": "Moved"}', headers=(("Location", location),))
        return cls(False, moved)

    @classmethod
    def oversized(cls, size: int, apply: bool = False) -> Fault:
        """Answer 200: `size` spaces, then the real answer if `apply` (JSON, readable whole)."""
        if apply:
            return cls(padding=size)
        return cls(False, Answer(200, b" " * size + b'{"note": "no answer here"}'))

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep `seconds`, then process and answer normally."""
        return cls(sleep=seconds)

    @classmethod
    def hang(cls) -> Fault:
        """Read the request and never answer, until the client closes or the sandbox stops."""
        return cls(False, then="stall")

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection with a TCP RST, without applying or answering."""
        return cls(False, then="drop")

    @classmethod
    def apply_then_drop(cls) -> Fault:
        """Apply, then close the connection with a TCP RST instead of answering."""
        return cls(then="drop")

    @classmethod
    def apply_then_delay(cls, seconds: float) -> Fault:
        """Apply at once, then answer only after `seconds`."""
        return cls(seconds=seconds)

    @classmethod
    def drip(
        cls, interval: float, part: Literal["headers", "body"] = "body", apply: bool = True
    ) -> Fault:
        """Send the answer's head or body (`part`) a byte every `interval` seconds: the real
        answer with `apply` (D24 slow), else a 503 with nothing applied (a sick proxy)."""
        answer = None if apply else _PROXY_UNAVAILABLE
        return cls(apply, answer, then="drip", seconds=interval, part=part)

    @classmethod
    def stall_after_headers(cls, apply: bool = True) -> Fault:
        """Send the head of the real answer with `apply` (else of a 503), then nothing."""
        return cls(apply, None if apply else _PROXY_UNAVAILABLE, then="stall")

    @classmethod
    def interim(cls, http_status: int = 103, seconds: float = 0.0) -> Fault:
        """Send a 1xx at once (103 with a Link header), then the real answer `seconds` later."""
        if not 100 <= http_status < 200:
            raise ValueError(f"an interim answer is 1xx, got {http_status}")
        headers = (("Link", "</v3/docs>; rel=preload"),) if http_status == 103 else ()
        return cls(early=Answer(http_status, b"", headers=headers), seconds=seconds)

    @classmethod
    def long_description(cls, length: int) -> Fault:
        """Process normally; a status description in the answer is padded to `length`."""
        return cls(describe=length)


@dataclass
class _Account:
    credentials: dict[str, str]  # shaped like the SecretString: login, pass, secret_key
    cashouts: dict[int, Cashout]


def _status_payload(cashout: Cashout, describe: int) -> dict[str, object]:
    description = STATUS_DESCRIPTIONS.get(cashout.status, "Unknown")
    if describe:  # a long description fault
        description = (description + " ").ljust(describe, ".")[:describe]
    payload: dict[str, object] = {
        "cashout_status": cashout.status,
        "cashout_status_description": description,
        "rejection_code": cashout.rejection_code,
        "rejection_reason": cashout.rejection_reason,
    }
    return {key: value for key, value in payload.items() if value is not None}


def _valid_params(payload: Mapping[str, object]) -> tuple[int, str] | None:
    credentials = (payload.get("login"), payload.get("pass"))
    cashout_id, external_id = payload.get("cashout_id"), payload.get("external_id")
    if not all(isinstance(v, str) and len(v) <= MAX_CREDENTIAL_LENGTH for v in credentials):
        return None
    # bool is an int in Python but not a JSON integer.
    if type(cashout_id) is not int or cashout_id not in _INT64 or not isinstance(external_id, str):
        return None
    return cashout_id, external_id


def _signs(secret_key: str, body: bytes, provided: str) -> bool:
    expected = hmac.new(secret_key.encode(), body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses non-ASCII str, and header values may be any.
    return hmac.compare_digest(expected.encode(), provided.encode("latin-1", "replace"))


class D24Sandbox:
    """The sandbox server; `with D24Sandbox() as d24:` starts it and stops it."""

    def __init__(
        self,
        login: str = SANDBOX_LOGIN,
        password: str = SANDBOX_PASSWORD,
        secret_key: str = SANDBOX_SECRET_KEY,
        *,
        seed: bool = True,
        latency: float = 0.0,
    ) -> None:
        self._initial = {"login": login, "pass": password, "secret_key": secret_key}
        self._seed = SEED_CASHOUTS if seed else {}
        # Seconds each request to a known endpoint waits first: a round trip from AWS to D24.
        self.latency = latency
        self._lock = threading.Lock()
        self._accounts: dict[str | None, _Account] = {}  # None: the constructor's account
        # fault, endpoint, until cleared, the added account whose requests it is for (None: any)
        self._faults: list[tuple[Fault, FaultTarget, bool, str | None]] = []
        self._received: list[Received] = []
        self._played: list[tuple[Endpoint, Fault]] = []
        self._in_flight = self._in_flight_peak = 0
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self.reset()

    def start(self) -> Self:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("D24Sandbox is already started; a stopped one cannot restart")
        self._server = _Server(self).__enter__()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; wakes delayed and hanging handlers."""
        if self._server is None or self._stopping.is_set():
            return
        self._stopping.set()
        self._server.__exit__()
        with self._lock:  # wakes handlers reading an idle keep-alive connection
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None:
            raise RuntimeError("D24Sandbox is not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """The D24 base URL to configure the client with, e.g. http://127.0.0.1:8024/v3."""
        return f"http://127.0.0.1:{self.port}/v3"

    @property
    def credentials(self) -> dict[str, str]:
        """The first account's current credentials, shaped like the Secrets Manager SecretString."""
        return self.credentials_of(None)

    def credentials_of(self, account: str | None) -> dict[str, str]:
        """An account's current credentials, shaped like the SecretString."""
        with self._lock:
            return dict(self._accounts[account].credentials)

    def set_credentials(
        self,
        *,
        login: str | None = None,
        password: str | None = None,
        secret_key: str | None = None,
        account: str | None = None,
    ) -> None:
        """Rotate an account's credentials (None keeps one); the old ones fail from now on."""
        changes = {"login": login, "pass": password, "secret_key": secret_key}
        given = {name: value for name, value in changes.items() if value is not None}
        with self._lock:
            self._accounts[account].credentials.update(given)

    def add_account(self, account: str, *, login: str, password: str, secret_key: str) -> None:
        """Add an account with no cashouts; its own secret key tells which requests are its."""
        with self._lock:
            keys = {held.credentials["secret_key"] for held in self._accounts.values()}
            if account in self._accounts or secret_key in keys:
                raise ValueError(f"account {account!r} or its secret key is taken")
            credentials = {"login": login, "pass": password, "secret_key": secret_key}
            self._accounts[account] = _Account(credentials, {})

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
        cashout = Cashout(external_id, status, rejection_code, rejection_reason)
        with self._lock:
            self._accounts[account].cashouts[cashout_id] = cashout

    def status_of(self, cashout_id: int, account: str | None = None) -> int | None:
        """A cashout's status code in `account` (default: the first), or None if it has none."""
        with self._lock:
            cashout = self._accounts[account].cashouts.get(cashout_id)
        return None if cashout is None else cashout.status

    def reset(self) -> None:
        """Back to construction state (but for `latency`): no added account, fault or request."""
        with self._lock:
            self._accounts = {None: _Account(dict(self._initial), dict(self._seed))}
            self._faults, self._received, self._played = [], [], []
            self._in_flight_peak = self._in_flight

    def interrupt(self, timeout: float = 2.0) -> None:
        """End every request being served, as stop() does, and go on serving (between tests)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        self._stopping.clear()

    @property
    def in_flight_peak(self) -> int:
        """The most requests to known endpoints that were being served at once so far."""
        with self._lock:
            return self._in_flight_peak

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._in_flight_peak = max(self._in_flight_peak, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def received(self, endpoint: Endpoint | None = None) -> list[Received]:
        """A copy of the requests received so far, oldest first, optionally of one endpoint."""
        with self._lock:
            return [r for r in self._received if endpoint in (None, r.endpoint)]

    def played(self, endpoint: Endpoint | None = None) -> list[Fault]:
        """The faults played so far, oldest first, optionally on one endpoint's requests."""
        with self._lock:
            return [f for e, f in self._played if endpoint in (None, e)]

    def inject(
        self,
        fault: Fault,
        endpoint: FaultTarget = "cancel",
        times: int | None = 1,
        account: str | None = None,
    ) -> None:
        """Queue `fault` for the next `times` signed requests to `endpoint` (or "any"), of an
        added `account` only or of any; `times` None: every one until `clear_faults` (D24 down)."""
        if endpoint not in ("cancel", "status", "any"):
            raise ValueError(f"endpoint must be 'cancel', 'status' or 'any', got {endpoint!r}")
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.extend([(fault, endpoint, times is None, account)] * (times or 1))

    def outage(self) -> None:
        """D24 down until `clear_faults`: every cancel answered 503, every status look-up reset."""
        self.inject(Fault.status(503), "cancel", times=None)
        self.inject(Fault.reset(), "status", times=None)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def _record(self, handler: LoopbackHandler, body: bytes, endpoint: Endpoint) -> Received:
        headers = dict(handler.headers.items())
        provided = handler.headers.get("Payload-Signature") or ""
        with self._lock:
            keys = {name: held.credentials["secret_key"] for name, held in self._accounts.items()}
            signed_by = [name for name, key in keys.items() if _signs(key, body, provided)]
            record = Received(
                handler.command, handler.path, headers, body, bool(signed_by), endpoint,
                handler.client_address[1], time.time(), signed_by[0] if signed_by else None,
            )  # fmt: skip
            self._received.append(record)
        return record

    def _take_fault(self, endpoint: Endpoint, account: str | None) -> Fault | None:
        with self._lock:
            for index, (fault, target, until_cleared, for_account) in enumerate(self._faults):
                if target in (endpoint, "any") and for_account in (None, account):
                    if not until_cleared:
                        del self._faults[index]
                    self._played.append((endpoint, fault))
                    return fault
        return None

    def _process(
        self, endpoint: Endpoint, content_type: str, body: bytes, account: str | None, describe: int
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
            held = self._accounts.get(account)
            if held is None:  # gone with a reset since the request was read
                return _INVALID_CREDENTIALS
            if any(payload.get(key) != held.credentials[key] for key in ("login", "pass")):
                return _INVALID_CREDENTIALS
            params = _valid_params(payload)
            if params is None:
                return _INVALID_PARAMS
            cashout = held.cashouts.get(params[0])
            if cashout is None or cashout.external_id != params[1]:
                return _NOT_FOUND
            if endpoint == "cancel":
                if cashout.status not in CANCELLABLE:
                    return _INVALID_TRANSITION
                cashout = held.cashouts[params[0]] = replace(cashout, status=CANCELLED)
        return Answer(200, json.dumps(_status_payload(cashout, describe)).encode())


class _Server(LoopbackHTTPServer):
    def __init__(self, sandbox: D24Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or reset mid-request are the point of the faults


class _Handler(LoopbackHandler):
    # A drip writes byte by byte; with Nagle on, the client's delayed ACK adds 40 ms a write.
    disable_nagle_algorithm = True
    _drop = False

    def setup(self) -> None:
        super().setup()
        self._sandbox = cast(_Server, self.server).sandbox
        with self._sandbox._lock:
            self._sandbox._connections.add(self.connection)

    def finish(self) -> None:
        with self._sandbox._lock:
            self._sandbox._connections.discard(self.connection)
        super().finish()  # closes rfile, which would keep the socket open past close()
        if self._drop:
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
            self.connection.close()

    def do_DELETE(self) -> None:
        body = self._read_body()
        route = _ROUTES.get(self.path.split("?", 1)[0])
        endpoint: Endpoint = route[1] if route and route[0] == self.command else "other"
        record = self._sandbox._record(self, body or b"", endpoint)
        if body is None:
            pass  # the client is gone
        elif route is None:
            self._send(_error(404, 404, "Not found"))
        elif endpoint == "other":
            allow = (("Allow", route[0]),)
            self._send(replace(_error(405, 405, "Method not allowed"), headers=allow))
        elif not record.signature_valid:
            self._send(_INVALID_SIGNATURE)
        else:
            with self._sandbox._serving():
                if self._sleep(self._sandbox.latency):
                    self._serve(endpoint, body, record.account)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE

    def _serve(self, endpoint: Endpoint, body: bytes, account: str | None) -> None:
        fault = self._sandbox._take_fault(endpoint, account) or Fault()
        if not self._sleep(fault.sleep):
            return
        if fault.early is not None and not self._write_slowly(self._head(fault.early), 0):
            return
        answer = fault.answer
        if fault.apply:
            content_type = self.headers.get_content_type()
            done = self._sandbox._process(endpoint, content_type, body, account, fault.describe)
            answer = answer or replace(done, body=b" " * fault.padding + done.body)
        if fault.then == "stall":
            self._write_slowly(self._head(answer) if answer else b"", 0)
            self._wait_for_client_close()
            self._abort()
        elif answer is None or fault.then == "drop":
            self._abort()
        elif fault.then == "drip":
            slow = {fault.part: fault.seconds}
            if self._write_slowly(self._head(answer), slow.get("headers", 0)):
                self._write_slowly(answer.body, slow.get("body", 0))
        elif self._sleep(fault.seconds):
            self._send(answer)

    def _read_body(self) -> bytes | None:
        """The request body, or None when the client left before sending it whole."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _head(self, answer: Answer) -> bytes:
        """The status line and headers of `answer`; an interim (1xx) one has only its own."""
        status = answer.http_status
        lines = [f"{self.protocol_version} {status} {responses.get(status, 'Error')}"]
        if status >= 200:
            lines += ["Server: D24Sandbox/1.0", f"Content-Type: {answer.content_type}"]
            lines += [f"Content-Length: {len(answer.body)}"]
            lines += ["Connection: close"] if self.close_connection else []
        lines += [f"{name}: {value}" for name, value in answer.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write_slowly(self, data: bytes, interval: float) -> bool:
        """Write `data`, a byte every `interval` seconds; False (connection dropped) if cut."""
        chunks = [data[i : i + 1] for i in range(len(data))] if interval > 0 else [data]
        with contextlib.suppress(OSError):
            for chunk in chunks:
                if interval > 0 and not self._sleep(interval):
                    return False
                self.wfile.write(chunk)
            return True
        self._abort()
        return False

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
            stopping.wait(_POLL_SECONDS)  # bytes of a further request: hang on, without spinning

    def _abort(self) -> None:
        self._drop = self.close_connection = True

    def _send(self, answer: Answer) -> None:
        self.wfile.write(self._head(answer) + answer.body)
