"""The built artifact as Lambda runs it, on this machine: template.yaml's function and the local
build (`make lambda-build`) make a `FunctionConfig`; `LocalLambda` is one execution environment,
the local Runtime API (local/lambda_runtime.py) and, while it lives, one runtime process, AWS's
runtime interface client (`python -S -m awslambdaric <handler>`); `RuntimeHandler` takes the
place of `lambda_handler` (`--runtime lambda`).

It enforces what Lambda enforces: an invocation not answered by its deadline is reported as
`Sandbox.Timedout` and its process ended (SIGKILL); the next invocation starts a new one (a cold
start). Init errors and function errors come back as the runtime client posts them; a process
that dies without a word as `Runtime.ExitError`; a failed invocation raises `FunctionError`
through a `RuntimeHandler`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TextIO, cast

from local.cfn_template import load_template
from local.lambda_context import ALIAS_ARN, FUNCTION_NAME, REGION
from local.lambda_runtime import Answer, RuntimeApi

# Lambda's limit on the Init phase of an on-demand environment.
INIT_TIMEOUT_SECONDS = 10.0
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class FunctionConfig:
    """What Lambda knows about the function: its code, handler, limits and environment."""

    task_root: Path  # the built artifact: /var/task
    handler: str  # as the template's Handler, e.g. cashout_cancel.handler.lambda_handler
    timeout_seconds: float
    runtime_dir: Path | None = None  # awslambdaric and its dependencies (Lambda's runtime)
    python: str = sys.executable  # the interpreter the artifact was built for
    memory_mb: int = 512
    environment: Mapping[str, str] = field(default_factory=dict)  # the function's variables
    snap_start: bool = False  # run the SnapStart init flow (hooks and /runtime/restore/next)


class LocalLambda:
    """One execution environment: the Runtime API and, while it lives, one runtime process.

    `with LocalLambda(config) as function: answer = function.invoke(event)`. Runtime output (the
    function's logs, awslambdaric's error lines) and Lambda's START/END/REPORT lines go to `log`
    and are kept in `logs`.
    """

    def __init__(self, config: FunctionConfig, log: TextIO | None = None) -> None:
        self.config, self._log = config, log
        self.logs: list[str] = []
        self._log_lock, self._invoke_lock = threading.Lock(), threading.Lock()
        self.api = RuntimeApi()
        self._process: subprocess.Popen[bytes] | None = None
        self._process_started = 0.0
        self._initialised = False
        self.processes_started = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the runtime process and stop the Runtime API."""
        self._end_process()
        self.api.close()

    def invoke(self, event: Any, timeout_seconds: float | None = None) -> Answer:
        """Run one event as Lambda's synchronous Invoke would, and return what it reports."""
        api = self.api
        timeout = self.config.timeout_seconds if timeout_seconds is None else timeout_seconds
        with self._invoke_lock:
            body = json.dumps(event).encode()
            request_id = api.offer(body, timeout, ALIAS_ARN)
            self._emit(f"START RequestId: {request_id} Version: $LATEST")
            cold = self._ensure_process()
            answer = self._await(api, request_id, timeout)
            self._report(answer, cold)
            return answer

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
            init_limit = INIT_TIMEOUT_SECONDS
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


REPO = Path(__file__).resolve().parent.parent
FUNCTION_ID = "CancelCashoutFunction"  # the template's logical id, and sam build's folder name
DEFAULT_BUILD_DIR = REPO / ".aws-sam" / "local" / "python"  # make lambda-build's default


@dataclass(frozen=True)
class TemplateFunction:
    """The function's properties in template.yaml that Lambda acts on."""

    handler: str
    timeout_seconds: float
    memory_mb: int
    runtime: str


def template_function() -> TemplateFunction:
    """Handler, Timeout, MemorySize and Runtime of the function, Globals included."""
    document = load_template()
    properties = {
        **((document.get("Globals") or {}).get("Function") or {}),
        **document["Resources"][FUNCTION_ID]["Properties"],
    }
    return TemplateFunction(
        handler=str(properties["Handler"]),
        timeout_seconds=float(properties.get("Timeout", 3)),  # Lambda's default
        memory_mb=int(properties.get("MemorySize", 128)),
        runtime=str(properties["Runtime"]),
    )


def function_config(
    build_dir: Path | None = None,
    *,
    environment: Mapping[str, str],
    timeout_seconds: float | None = None,
    handler: str | None = None,
    task_root: Path | None = None,
    snap_start: bool = False,
) -> FunctionConfig:
    """How Lambda would run the build in `build_dir` (default: make's): the template's handler,
    timeout and memory unless given, on the interpreter the build was made for."""
    build_dir = (build_dir or DEFAULT_BUILD_DIR).resolve()  # the runtime runs in the task root
    marker = build_dir / "python"
    if not marker.is_file():
        raise FileNotFoundError(f"no local build in {build_dir}: run `make lambda-build`")
    python = marker.read_text(encoding="utf-8").strip()
    spec = template_function()
    command = [python, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    version = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()
    return FunctionConfig(
        task_root=(task_root or build_dir / FUNCTION_ID).resolve(),
        handler=handler or spec.handler,
        timeout_seconds=spec.timeout_seconds if timeout_seconds is None else timeout_seconds,
        runtime_dir=build_dir / "runtime",
        python=python,
        memory_mb=spec.memory_mb,
        # As Lambda names its runtimes; awslambdaric polls on a thread from python3.12 on.
        environment={"AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}", **environment},
        snap_start=snap_start,
    )


class FunctionError(Exception):
    """An invocation Lambda reports as failed (X-Amz-Function-Error: Unhandled)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.error_type = answer.error_type
        message = answer.payload.get("errorMessage") if isinstance(answer.payload, dict) else None
        super().__init__(f"{self.error_type}: {message}")


class RuntimeHandler:
    """`lambda_handler(event, context)` run by the artifact: the context gives the invocation's
    timeout (its remaining time); awslambdaric builds the function's own context from the
    request id and deadline the local Runtime API hands it."""

    def __init__(self, function: LocalLambda) -> None:
        self.function = function

    def __call__(self, event: Any, context: Any = None) -> Any:
        timeout = None if context is None else context.get_remaining_time_in_millis() / 1000
        answer = self.function.invoke(event, timeout)
        if answer.kind != "response":
            raise FunctionError(answer)
        return answer.payload
