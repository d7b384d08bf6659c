"""A local Lambda Runtime API: the HTTP side of one execution environment, as Lambda runs it.

AWS's runtime interface client (`python -m awslambdaric <handler>`, started by
local/lambda_environment.py with `AWS_LAMBDA_RUNTIME_API` pointing here) talks to `RuntimeApi`,
which speaks the documented Runtime API (docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
`GET invocation/next`, `POST invocation/{id}/response` and `.../error`, `POST init/error`, and
SnapStart's `GET restore/next` and `POST restore/error`. One event at a time, as one execution
environment takes them; the deadline handed out is the timeout after the hand-out, and an answer
posted after it is refused. Standard library only.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal, cast

from local.lambda_context import new_request_id
from local.loopback import LoopbackHTTPServer

PREFIX = "/2018-06-01/runtime"

Kind = Literal["response", "error", "timeout", "init_error", "exit"]


@dataclass(frozen=True)
class Answer:
    """What Lambda's Invoke reports for one invocation, with the times the Runtime API saw."""

    request_id: str
    kind: Kind  # response, or how it failed: error, timeout, init_error, exit
    payload: Any  # the function's response, or the error object {"errorType", "errorMessage"...}
    deadline_ms: int | None = None  # Lambda-Runtime-Deadline-Ms as handed out (epoch ms)
    handed_out_at: float | None = None  # epoch seconds when the runtime received the event
    answered_at: float = field(default_factory=time.time)  # epoch seconds

    @property
    def error_type(self) -> str | None:
        """The errorType of an error answer (Runtime.ImportModuleError, Sandbox.Timedout...)."""
        if self.kind == "response" or not isinstance(self.payload, dict):
            return None
        return cast(str | None, self.payload.get("errorType"))

    @property
    def duration_ms(self) -> float | None:
        """From handing out the event to the answer; None when it was never handed out."""
        if self.handed_out_at is None:
            return None
        return (self.answered_at - self.handed_out_at) * 1000


@dataclass
class _Invocation:
    request_id: str
    body: bytes
    timeout_seconds: float
    invoked_function_arn: str
    deadline_ms: int | None = None
    handed_out_at: float | None = None


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class RuntimeApi(LoopbackHTTPServer):
    """The Runtime API of one execution environment: one event out at a time, answers recorded.
    It serves from construction to `close`."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: _Invocation | None = None  # offered, not yet handed out
        self._current: _Invocation | None = None  # handed out, not yet answered
        self._answers: dict[str, Answer] = {}
        self._closing = False
        self.calls: list[str] = []  # every call the runtime made, e.g. "next", "init/error"
        super().__init__(("127.0.0.1", 0), _Handler)
        self.__enter__()

    @property
    def address(self) -> str:
        """host:port, as AWS_LAMBDA_RUNTIME_API gives it to the runtime."""
        return f"127.0.0.1:{self.server_port}"

    def close(self) -> None:
        """Release waiting runtime calls and stop serving."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self.__exit__()

    # The invoking side

    def offer(self, body: bytes, timeout_seconds: float, invoked_function_arn: str) -> str:
        """Queue one event for the runtime's next `next`; returns its request id."""
        invocation = _Invocation(new_request_id(), body, timeout_seconds, invoked_function_arn)
        with self._changed:
            if self._pending is not None or self._current is not None:
                raise RuntimeError("one invocation at a time")
            self._pending = invocation
            self._changed.notify_all()
        return invocation.request_id

    def wait_answer(self, request_id: str, seconds: float) -> Answer | None:
        """The invocation's answer, waiting up to `seconds` for it; None if there is none yet."""
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._answers, timeout=seconds)
            return self._answers.get(request_id)

    def overdue(self, request_id: str) -> bool:
        """True when the invocation was handed out and its deadline has passed unanswered."""
        with self._changed:
            current = self._current
            return (
                current is not None
                and current.request_id == request_id
                and current.deadline_ms is not None
                and time.time() * 1000 >= current.deadline_ms
            )

    def handed_out(self, request_id: str) -> bool:
        """True once the runtime has received the invocation."""
        with self._changed:
            if self._current is not None and self._current.request_id == request_id:
                return True
            answer = self._answers.get(request_id)
            return answer is not None and answer.handed_out_at is not None

    def fail(self, request_id: str, kind: Kind, error_type: str, error: str) -> Answer:
        """End the invocation as Lambda reports an environment's failure (timeout, exit)."""
        with self._changed:
            if request_id in self._answers:  # the runtime's answer came first, after all
                return self._answers[request_id]
            message = f"RequestId: {request_id} Error: {error}"
            payload = {"errorType": error_type, "errorMessage": message}
            return self._record(self._take(request_id), kind, payload)

    # The runtime's side (called by the HTTP handler)

    def next_invocation(self) -> _Invocation | None:
        """Block until an event is offered; hand it out with its deadline. None when closing."""
        with self._changed:
            self.calls.append("next")
            self._changed.wait_for(lambda: self._pending is not None or self._closing)
            invocation, self._pending = self._pending, None
            if invocation is not None:
                invocation.handed_out_at = time.time()
                deadline = invocation.handed_out_at + invocation.timeout_seconds
                invocation.deadline_ms = int(deadline * 1000)
                self._current = invocation
            return invocation

    def runtime_answer(self, request_id: str, kind: Kind, body: bytes) -> bool:
        """Record a response or error posted for the invocation; False for an unknown id or
        one past its deadline (Lambda has already timed it out)."""
        with self._changed:
            self.calls.append("response" if kind == "response" else "error")
            current = self._current
            if current is None or current.request_id != request_id:
                return False
            if current.deadline_ms is not None and time.time() * 1000 >= current.deadline_ms:
                return False
            self._record(self._take(request_id), kind, _decode(body))
            return True

    def init_error(self, body: bytes, call: str = "init/error") -> None:
        """The environment could not get ready (the handler did not load, or a SnapStart hook
        raised): the waiting invocation fails with the error the runtime posted."""
        with self._changed:
            self.calls.append(call)
            invocation = self._pending or self._current
            if invocation is not None:
                self._record(self._take(invocation.request_id), "init_error", _decode(body))

    def _take(self, request_id: str) -> _Invocation:
        if self._current is not None and self._current.request_id == request_id:
            invocation, self._current = self._current, None
            return invocation
        if self._pending is not None and self._pending.request_id == request_id:
            invocation, self._pending = self._pending, None
            return invocation
        raise KeyError(request_id)

    def _record(self, invocation: _Invocation, kind: Kind, payload: Any) -> Answer:
        answer = Answer(
            invocation.request_id, kind, payload, invocation.deadline_ms, invocation.handed_out_at
        )
        self._answers[invocation.request_id] = answer
        self._changed.notify_all()
        return answer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet when a runtime process ended mid-request (SIGKILL at a timeout): expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection alive

    @property
    def _api(self) -> RuntimeApi:
        return cast(RuntimeApi, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runtime's own output is the log

    def do_GET(self) -> None:
        if self.path == f"{PREFIX}/invocation/next":
            invocation = self._api.next_invocation()
            if invocation is None:
                self._send(503, {"errorType": "Runtime.Shutdown", "errorMessage": "closing"})
                return
            # Lambda hands the runtime a sampled-or-not root and the parent segment of its own
            # invocation, which the X-Ray SDK needs to attach subsegments.
            trace = (
                f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
                f"Parent={secrets.token_hex(8)};Sampled=0"
            )
            self._send(
                200,
                invocation.body,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
                    "Lambda-Runtime-Trace-Id": trace,
                },
            )
        elif self.path == f"{PREFIX}/restore/next":
            # SnapStart's snapshot point: nothing is snapshotted locally, the restore follows.
            with self._api._changed:
                self._api.calls.append("restore/next")
            self._send(200, None)
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": self.path})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.removeprefix(f"{PREFIX}/").split("/")
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            kind: Kind = "response" if parts[2] == "response" else "error"
            if not self._api.runtime_answer(parts[1], kind, body):
                self._send(400, {"errorType": "InvalidRequestID", "errorMessage": parts[1]})
                return
        elif parts in (["init", "error"], ["restore", "error"]):
            self._api.init_error(body, "/".join(parts))
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        self._send(202, {"status": "OK"})

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = (
            payload
            if isinstance(payload, bytes)
            else b""
            if payload is None
            else json.dumps(payload).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
