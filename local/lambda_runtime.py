"""A local Lambda Runtime API, and the function's runtime process under it, as Lambda runs them.

`LocalLambda` starts AWS's own runtime interface client (`python -m awslambdaric <handler>`) in
its own process on a built artifact, with `AWS_LAMBDA_RUNTIME_API` pointing at `RuntimeApi`, an
HTTP server on loopback that speaks the documented Runtime API
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):

    GET  /2018-06-01/runtime/invocation/next          one event, with its request id, deadline,
                                                      invoked (alias) ARN and trace id headers
    POST /2018-06-01/runtime/invocation/{id}/response the function's answer
    POST /2018-06-01/runtime/invocation/{id}/error    a function error (errorType, errorMessage...)
    POST /2018-06-01/runtime/init/error               the handler could not be loaded
    GET  /2018-06-01/runtime/restore/next             SnapStart: the snapshot point
    POST /2018-06-01/runtime/restore/error            SnapStart: an after-restore hook failed

One event at a time, as one execution environment takes them. Like Lambda, it stops an
invocation at its deadline (the function's timeout after the event was handed out), reports it as
`Sandbox.Timedout` and ends the runtime process (SIGKILL); the next invocation starts a new one
(a cold start). Init errors and function errors come back as the runtime client posts them.

Standard library only. `local/lambda_invoke.py` builds the configuration from template.yaml and
runs events through the artifact that `make lambda-build` makes.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TextIO, cast

from local.lambda_context import ACCOUNT_ID, REGION, new_request_id
from local.loopback import LoopbackHTTPServer

PREFIX = "/2018-06-01/runtime"
# Lambda's limit on the Init phase of an on-demand environment.
INIT_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.02

Kind = Literal["response", "error", "timeout", "init_error", "exit"]


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows about the function: its code, handler, limits and environment."""

    task_root: Path  # the built artifact: /var/task
    handler: str  # as the template's Handler, e.g. cashout_cancel.handler.lambda_handler
    timeout_seconds: float
    runtime_dir: Path | None = None  # awslambdaric and its dependencies (Lambda's runtime)
    python: str = sys.executable  # the interpreter the artifact was built for
    name: str = "cashout-cancel"
    memory_mb: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's variables
    snap_start: bool = False  # run the SnapStart init flow (hooks and /runtime/restore/next)
    init_timeout_seconds: float = INIT_TIMEOUT_SECONDS

    @property
    def alias_arn(self) -> str:
        """The ARN callers invoke: the `live` alias the template publishes."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}:live"


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
    def function_error(self) -> str | None:
        """Invoke's X-Amz-Function-Error: None for a response, "Unhandled" otherwise."""
        return None if self.kind == "response" else "Unhandled"

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


def _trace_id() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


class RuntimeApi:
    """The Runtime API of one execution environment: one event out at a time, answers recorded."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: _Invocation | None = None  # offered, not yet handed out
        self._current: _Invocation | None = None  # handed out, not yet answered
        self._answers: dict[str, Answer] = {}
        self._closing = False
        self.calls: list[str] = []  # every call the runtime made, e.g. "next", "init/error"
        self._server = _Server(("127.0.0.1", 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        """host:port, as AWS_LAMBDA_RUNTIME_API gives it to the runtime."""
        return f"127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        """Release waiting runtime calls and stop serving."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

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
            current = self._current
            return (current is not None and current.request_id == request_id) or (
                request_id in self._answers and self._answers[request_id].handed_out_at is not None
            )

    def fail(self, request_id: str, kind: Kind, error_type: str, error: str) -> Answer:
        """End the invocation as Lambda reports an environment's failure (timeout, exit)."""
        with self._changed:
            if request_id in self._answers:  # the runtime's answer came first, after all
                return self._answers[request_id]
            invocation = self._take(request_id)
            message = f"RequestId: {request_id} Error: {error}"
            payload = {"errorType": error_type, "errorMessage": message}
            return self._record(invocation, kind, payload)

    # The runtime's side (called by the HTTP handler)

    def next_invocation(self) -> _Invocation | None:
        """Block until an event is offered; hand it out with its deadline. None when closing."""
        with self._changed:
            self.calls.append("next")
            self._changed.wait_for(lambda: self._pending is not None or self._closing)
            invocation, self._pending = self._pending, None
            if invocation is None:
                return None
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

    def restore_next(self) -> None:
        """SnapStart's snapshot point: nothing to snapshot locally, the restore follows at once."""
        with self._changed:
            self.calls.append("restore/next")

    def _take(self, request_id: str) -> _Invocation:
        for invocation in (self._current, self._pending):
            if invocation is not None and invocation.request_id == request_id:
                if invocation is self._current:
                    self._current = None
                else:
                    self._pending = None
                return invocation
        raise KeyError(request_id)

    def _record(self, invocation: _Invocation, kind: Kind, payload: Any) -> Answer:
        answer = Answer(
            invocation.request_id,
            kind,
            payload,
            invocation.deadline_ms,
            invocation.handed_out_at,
        )
        self._answers[invocation.request_id] = answer
        self._changed.notify_all()
        return answer


class _Server(LoopbackHTTPServer):
    def __init__(self, address: tuple[str, int], api: RuntimeApi) -> None:
        self.api = api
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime process ended mid-request (SIGKILL at a timeout): expected, not worth a trace.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection alive

    @property
    def _api(self) -> RuntimeApi:
        return cast(_Server, self.server).api

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runtime's own output is the log

    def do_GET(self) -> None:
        if self.path == f"{PREFIX}/invocation/next":
            invocation = self._api.next_invocation()
            if invocation is None:
                self._send(503, {"errorType": "Runtime.Shutdown", "errorMessage": "closing"})
                return
            self._send_event(invocation)
        elif self.path == f"{PREFIX}/restore/next":
            self._api.restore_next()
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
        elif parts == ["init", "error"]:
            self._api.init_error(body)
        elif parts == ["restore", "error"]:
            self._api.init_error(body, "restore/error")
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        self._send(202, {"status": "OK"})

    def _send_event(self, invocation: _Invocation) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", invocation.invoked_function_arn)
        self.send_header("Lambda-Runtime-Trace-Id", _trace_id())
        self.send_header("Content-Length", str(len(invocation.body)))
        self.end_headers()
        self.wfile.write(invocation.body)

    def _send(self, status: int, payload: Any) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalLambda:
    """One execution environment: the Runtime API and, while it lives, one runtime process.

    `with LocalLambda(config) as function: answer = function.invoke(event)`. Runtime output (the
    function's logs, awslambdaric's error lines) and Lambda's START/END/REPORT lines go to `log`
    and are kept in `logs`.
    """

    def __init__(self, config: FunctionConfig, log: TextIO | None = None) -> None:
        self.config = config
        self._log = log
        self.logs: list[str] = []
        self._log_lock = threading.Lock()
        self._invoke_lock = threading.Lock()
        self.api: RuntimeApi | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._process_started = 0.0
        self._initialised = False
        self.processes_started = 0

    def __enter__(self) -> Self:
        self.api = RuntimeApi()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """End the runtime process and stop the Runtime API."""
        self._end_process()
        if self.api is not None:
            self.api.close()

    def invoke(self, event: Any, timeout_seconds: float | None = None) -> Answer:
        """Run one event as Lambda's synchronous Invoke would, and return what it reports."""
        api = self._started_api()
        timeout = self.config.timeout_seconds if timeout_seconds is None else timeout_seconds
        with self._invoke_lock:
            body = json.dumps(event).encode()
            request_id = api.offer(body, timeout, self.config.alias_arn)
            self._emit(f"START RequestId: {request_id} Version: $LATEST")
            cold = self._ensure_process()
            answer = self._await(api, request_id, timeout)
            self._report(answer, cold)
            return answer

    def _started_api(self) -> RuntimeApi:
        if self.api is None:
            raise RuntimeError("use LocalLambda as a context manager")
        return self.api

    def _await(self, api: RuntimeApi, request_id: str, timeout: float) -> Answer:
        process = cast(subprocess.Popen[bytes], self._process)
        while True:
            exited = process.poll()  # before the answer: a runtime posts, then exits
            answer = api.wait_answer(request_id, _POLL_SECONDS)
            if answer is not None:
                if answer.kind == "init_error":
                    self._end_process()  # awslambdaric exits after posting; make sure
                else:
                    self._initialised = True
                return answer
            if api.overdue(request_id):
                self._end_process()
                timed_out = f"Task timed out after {timeout:.2f} seconds"
                self._emit(f"{_now()} {request_id} {timed_out}")
                return api.fail(request_id, "timeout", "Sandbox.Timedout", timed_out)
            if exited is not None:
                self._process = None
                exit_error = f"Runtime exited with error: exit status {exited}"
                return api.fail(request_id, "exit", "Runtime.ExitError", exit_error)
            init_limit = self.config.init_timeout_seconds
            waiting = time.monotonic() - self._process_started
            if not api.handed_out(request_id) and not self._initialised and waiting > init_limit:
                self._end_process()
                init_timeout = f"Init timed out after {init_limit:.2f} seconds"
                return api.fail(request_id, "timeout", "Sandbox.Timedout", init_timeout)

    def _ensure_process(self) -> bool:
        """Start a runtime process unless one is running; True when this is a cold start."""
        if self._process is not None and self._process.poll() is None:
            return False
        self._initialised = False
        self._process_started = time.monotonic()
        self.processes_started += 1
        self._process = subprocess.Popen(
            [self.config.python, "-S", "-m", "awslambdaric", self.config.handler],
            cwd=self.config.task_root,
            env=self._process_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        reader = threading.Thread(target=self._read_output, args=(self._process,), daemon=True)
        reader.start()
        return True

    def _process_environment(self) -> dict[str, str]:
        """What Lambda sets for the runtime, then the function's own variables.

        Nothing is inherited from this process (not PYTHONPATH, not credentials): `-S` and a
        PYTHONPATH of the artifact, then the runtime client, are all the runtime can import
        from, as in Lambda where /var/task comes first.
        """
        config = self.config
        path = [str(config.task_root)] + ([str(config.runtime_dir)] if config.runtime_dir else [])
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join(path),
            "LAMBDA_TASK_ROOT": str(config.task_root),
            "LAMBDA_RUNTIME_DIR": str(config.runtime_dir or ""),
            "_HANDLER": config.handler,
            "AWS_LAMBDA_RUNTIME_API": self._started_api().address,
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{self.processes_started}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start" if config.snap_start else "on-demand",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **config.environment,
        }

    def _end_process(self) -> None:
        """SIGKILL, as Lambda ends an environment whose invocation timed out."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()

    def _read_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._emit(raw.decode("utf-8", "replace").rstrip("\n"))

    def _emit(self, line: str) -> None:
        # awslambdaric joins the lines of one error with "\r", which CloudWatch shows as breaks.
        line = line.replace("\r", "\n")
        with self._log_lock:
            self.logs.append(line)
            if self._log is not None:
                print(line, file=self._log, flush=True)

    def _report(self, answer: Answer, cold: bool) -> None:
        fields = [f"REPORT RequestId: {answer.request_id}"]
        if answer.duration_ms is not None:
            fields.append(f"Duration: {answer.duration_ms:.2f} ms")
        fields.append(f"Memory Size: {self.config.memory_mb} MB")
        if cold:
            fields.append("Cold start")
        if answer.kind != "response":
            fields.append(f"Status: {answer.kind}")
        self._emit(f"END RequestId: {answer.request_id}")
        self._emit("\t".join(fields))


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
