"""The built artifact as Lambda runs it (docs/local.md): one execution environment's Runtime API,
SnapStart's restore calls included, and one `python -S -m awslambdaric` process at a time, held to
Lambda's rules (Sandbox.Timedout, Runtime.ExitError, init errors)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO, cast

from local.lambda_context import ALIAS_ARN, FUNCTION_NAME, REGION, new_request_id
from local.loopback import LoopbackHandler, LoopbackHTTPServer

PREFIX = "/2018-06-01/runtime"
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit on the Init phase of an on-demand environment
_POLL_SECONDS = 0.02
FUNCTION_ID = "CancelCashoutFunction"  # the template's logical id, and sam build's folder name
DEFAULT_BUILD_DIR = Path(__file__).resolve().parent.parent / ".aws-sam" / "local" / "python"

Kind = Literal["response", "error", "timeout", "init_error", "exit"]


@dataclass
class Invocation:
    """One event offered to the runtime and, once it ended, what Lambda's Invoke reports."""

    request_id: str
    body: bytes
    timeout_seconds: float
    offered_at: float = field(default_factory=time.time)  # epoch seconds, as the times below
    handed_out_at: float | None = None  # None: not handed out (yet)
    deadline_ms: int | None = None  # Lambda-Runtime-Deadline-Ms: the timeout after the hand-out
    kind: Kind | None = None  # once it ended: response, or how it failed
    payload: Any = None  # the function's response, or the error object {"errorType", ...}
    answered_at: float = 0.0

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

    def overdue(self) -> str | None:
        """Why Lambda stops it now (its init, or the invocation, timed out); None: it does not."""
        if self.deadline_ms is None:
            late = time.time() - self.offered_at > INIT_TIMEOUT_SECONDS
            return f"Init timed out after {INIT_TIMEOUT_SECONDS:.2f} seconds" if late else None
        late = time.time() * 1000 >= self.deadline_ms
        return f"Task timed out after {self.timeout_seconds:.2f} seconds" if late else None


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class RuntimeApi(LoopbackHTTPServer):
    """The Runtime API of one execution environment, serving from construction to `close`."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._invocation: Invocation | None = None  # offered and not answered yet
        self._answers: dict[str, Invocation] = {}
        self._closing = False
        self.calls: list[str] = []  # every call the runtime made, e.g. "next", "init/error"
        super().__init__(("127.0.0.1", 0), _Handler)
        self.address = f"127.0.0.1:{self.server_port}"  # as AWS_LAMBDA_RUNTIME_API gives it
        self.__enter__()

    def close(self) -> None:
        """Release waiting runtime calls and stop serving."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self.__exit__()

    def offer(self, body: bytes, timeout_seconds: float) -> str:
        """Queue one event for the runtime's next `next`; returns its request id."""
        invocation = Invocation(new_request_id(), body, timeout_seconds)
        with self._changed:
            if self._invocation is not None:
                raise RuntimeError("one invocation at a time")
            self._invocation = invocation
            self._changed.notify_all()
        return invocation.request_id

    def wait_answer(self, request_id: str, seconds: float) -> Invocation | None:
        """The invocation's answer, waiting up to `seconds` for it; None if there is none yet."""
        with self._changed:
            self._changed.wait_for(lambda: request_id in self._answers, timeout=seconds)
            return self._answers.get(request_id)

    def overdue(self, request_id: str) -> str | None:
        """Why Lambda stops the unanswered invocation now (Task or Init timed out), if it does."""
        with self._changed:
            current = self._current(request_id)
            return None if current is None else current.overdue()

    def fail(self, request_id: str, kind: Kind, error_type: str, error: str) -> Invocation:
        """End the invocation as Lambda reports an environment's failure (timeout, exit)."""
        with self._changed:
            if request_id in self._answers:  # the runtime's answer came first, after all
                return self._answers[request_id]
            message = f"RequestId: {request_id} Error: {error}"
            return self._record(kind, {"errorType": error_type, "errorMessage": message})

    def next_invocation(self) -> Invocation | None:
        """Block until an event is offered; hand it out. None when closing."""
        with self._changed:
            self.calls.append("next")
            self._changed.wait_for(lambda: self._closing or self._waiting() is not None)
            invocation = self._waiting()
            if invocation is not None:
                now = time.time()
                invocation.handed_out_at = now
                invocation.deadline_ms = int((now + invocation.timeout_seconds) * 1000)
            return invocation

    def runtime_answer(self, request_id: str, kind: Kind, body: bytes) -> bool:
        """Record a response or error posted for the invocation; False if unknown or overdue."""
        with self._changed:
            self.calls.append(kind)
            current = self._current(request_id)
            if current is None or current.handed_out_at is None or current.overdue():
                return False
            self._record(kind, _decode(body))
            return True

    def init_error(self, body: bytes, call: str) -> None:
        """The handler did not load, or a SnapStart hook raised: the waiting invocation fails."""
        with self._changed:
            self.calls.append(call)
            if self._invocation is not None:
                self._record("init_error", _decode(body))

    def _current(self, request_id: str) -> Invocation | None:
        if self._invocation is not None and self._invocation.request_id == request_id:
            return self._invocation
        return None

    def _waiting(self) -> Invocation | None:
        invocation = self._invocation
        return invocation if invocation is not None and invocation.handed_out_at is None else None

    def _record(self, kind: Kind, payload: Any) -> Invocation:
        """End the current invocation with this answer."""
        invocation, self._invocation = cast(Invocation, self._invocation), None
        invocation.kind, invocation.payload = kind, payload
        invocation.answered_at = time.time()
        self._answers[invocation.request_id] = invocation
        self._changed.notify_all()
        return invocation

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet when a runtime process ended mid-request (SIGKILL at a timeout): expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(LoopbackHandler):
    server: RuntimeApi

    def do_GET(self) -> None:
        if self.path == f"{PREFIX}/invocation/next":
            invocation = self.server.next_invocation()
            if invocation is None:
                self._send(503, {"errorType": "Runtime.Shutdown", "errorMessage": "closing"})
                return
            # A root and the parent segment: the X-Ray SDK needs both to attach subsegments.
            trace = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": ALIAS_ARN,
                "Lambda-Runtime-Trace-Id": f"{trace}Parent={secrets.token_hex(8)};Sampled=0",
            }
            self.send(200, invocation.body, headers.items())
        elif self.path == f"{PREFIX}/restore/next":
            # SnapStart's snapshot point: nothing is snapshotted locally, the restore follows.
            self.server.calls.append("restore/next")
            self.send(200, b"")
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": self.path})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.removeprefix(f"{PREFIX}/").split("/")
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            kind: Kind = "response" if parts[2] == "response" else "error"
            if not self.server.runtime_answer(parts[1], kind, body):
                self._send(400, {"errorType": "InvalidRequestID", "errorMessage": parts[1]})
                return
        elif parts in (["init", "error"], ["restore", "error"]):
            self.server.init_error(body, "/".join(parts))
        else:
            self._send(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        self._send(202, {"status": "OK"})

    def _send(self, status: int, payload: dict[str, str]) -> None:
        self.send(status, json.dumps(payload).encode())


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows about the function: its code, handler, limits and environment."""

    task_root: Path  # the built artifact: /var/task
    handler: str  # as the template's Handler, e.g. cashout_cancel.handler.lambda_handler
    timeout_seconds: float
    runtime_dir: Path  # awslambdaric and its dependencies (Lambda's runtime)
    python: str  # the interpreter the artifact was built for
    memory_mb: int
    environment: Mapping[str, str]  # the function's variables
    snap_start: bool  # run the SnapStart init flow (hooks and /runtime/restore/next)


class LocalLambda(contextlib.AbstractContextManager["LocalLambda"]):
    """One execution environment: `with LocalLambda(config) as function: function.invoke(event)`.
    The runtime's output and Lambda's START/END/REPORT lines go to `log` and are kept in `logs`."""

    def __init__(self, config: FunctionConfig, log: TextIO | None = None) -> None:
        self.config, self._log = config, log
        self.logs: list[str] = []
        self._log_lock, self._invoke_lock = threading.Lock(), threading.Lock()
        self.api = RuntimeApi()
        self._process: subprocess.Popen[bytes] | None = None
        self.processes_started = 0

    def __exit__(self, *exc_info: object) -> None:
        self._end_process()
        self.api.close()

    def invoke(self, event: Any, timeout_seconds: float | None = None) -> Invocation:
        """Run one event as Lambda's synchronous Invoke would, and return what it reports."""
        timeout = self.config.timeout_seconds if timeout_seconds is None else timeout_seconds
        with self._invoke_lock:
            request_id = self.api.offer(json.dumps(event).encode(), timeout)
            self._emit(f"START RequestId: {request_id} Version: $LATEST")
            cold = self._ensure_process()
            answer = self._await(request_id)
            if answer.kind not in ("response", "error"):
                self._end_process()  # as Lambda ends the environment (awslambdaric exits anyway)
            fields = [f"REPORT RequestId: {request_id}"]
            if answer.duration_ms is not None:
                fields.append(f"Duration: {answer.duration_ms:.2f} ms")
            fields.append(f"Memory Size: {self.config.memory_mb} MB")
            if cold:
                fields.append("Cold start")
            if answer.kind != "response":
                fields.append(f"Status: {answer.kind}")
            self._emit(f"END RequestId: {request_id}")
            self._emit("\t".join(fields))
            return answer

    def _await(self, request_id: str) -> Invocation:
        """The runtime's answer, or the failure Lambda reports instead."""
        api, process = self.api, cast(subprocess.Popen[bytes], self._process)
        while True:
            exited = process.poll()  # before the answer: a runtime posts, then exits
            answer = api.wait_answer(request_id, _POLL_SECONDS)
            if answer is not None:
                return answer
            timed_out = api.overdue(request_id)
            if timed_out is not None:
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                self._emit(f"{stamp}Z {request_id} {timed_out}")
                return api.fail(request_id, "timeout", "Sandbox.Timedout", timed_out)
            if exited is not None:
                exit_error = f"Runtime exited with error: exit status {exited}"
                return api.fail(request_id, "exit", "Runtime.ExitError", exit_error)

    def _ensure_process(self) -> bool:
        """Start a runtime process unless one is running; True when this is a cold start."""
        if self._process is not None and self._process.poll() is None:
            return False
        self.processes_started += 1
        self._process = subprocess.Popen(
            [self.config.python, "-S", "-m", "awslambdaric", self.config.handler],
            cwd=self.config.task_root,
            env=self._process_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._read_output, args=(self._process,), daemon=True).start()
        return True

    def _process_environment(self) -> dict[str, str]:
        """What Lambda sets for the runtime, then the function's own variables. Nothing is
        inherited: with `-S`, the artifact then the runtime client are all it can import from."""
        config = self.config
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join([str(config.task_root), str(config.runtime_dir)]),
            "LAMBDA_TASK_ROOT": str(config.task_root),
            "LAMBDA_RUNTIME_DIR": str(config.runtime_dir),
            "_HANDLER": config.handler,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{FUNCTION_NAME}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{self.processes_started}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start" if config.snap_start else "on-demand",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **config.environment,
        }

    def _end_process(self) -> None:
        """SIGKILL, as Lambda ends an environment whose invocation timed out."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()  # a no-op for a process that has exited
            process.wait()

    def _read_output(self, process: subprocess.Popen[bytes]) -> None:
        for raw in cast(Any, process.stdout):
            self._emit(raw.decode("utf-8", "replace").rstrip("\n"))

    def _emit(self, line: str) -> None:
        # awslambdaric joins the lines of one error with "\r", which CloudWatch shows as breaks.
        line = line.replace("\r", "\n")
        with self._log_lock:
            self.logs.append(line)
            if self._log is not None:
                print(line, file=self._log, flush=True)


def template_properties() -> dict[str, Any]:
    """The function's Properties in template.yaml (Handler, Timeout, MemorySize, Runtime...)."""
    from local.cfn_template import load_template

    return cast(dict[str, Any], load_template()["Resources"][FUNCTION_ID]["Properties"])


def function_config(build_dir: Path | None, environment: Mapping[str, str]) -> FunctionConfig:
    """How Lambda runs the build in `build_dir` (default: make's) as the template deploys it."""
    build_dir = (build_dir or DEFAULT_BUILD_DIR).resolve()  # the runtime runs in the task root
    marker = build_dir / "python"
    if not marker.is_file():
        raise FileNotFoundError(f"no local build in {build_dir}: run `make lambda-build`")
    python = marker.read_text(encoding="utf-8").strip()
    spec = template_properties()
    command = [python, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    version = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    return FunctionConfig(
        task_root=build_dir / FUNCTION_ID,
        handler=str(spec["Handler"]),
        timeout_seconds=float(spec["Timeout"]),
        runtime_dir=build_dir / "runtime",
        python=python,
        memory_mb=int(spec["MemorySize"]),
        # As Lambda names its runtimes; awslambdaric polls on a thread from python3.12 on.
        environment={"AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}", **environment},
        snap_start=False,
    )


class FunctionError(Exception):
    """An invocation Lambda reports as failed (X-Amz-Function-Error: Unhandled)."""

    def __init__(self, answer: Invocation) -> None:
        self.error_type = answer.error_type
        message = answer.payload.get("errorMessage") if isinstance(answer.payload, dict) else None
        super().__init__(f"{self.error_type}: {message}")


@dataclass(frozen=True)
class RuntimeHandler:
    """`lambda_handler(event, context)` run by the artifact within the context's remaining time."""

    function: LocalLambda

    def __call__(self, event: Any, context: Any) -> Any:
        answer = self.function.invoke(event, context.get_remaining_time_in_millis() / 1000)
        if answer.kind != "response":
            raise FunctionError(answer)
        return answer.payload
