"""The built artifact as the local tools run it: template.yaml's function, the local build
(`make lambda-build`), and a handler-shaped entry to it.

`RuntimeHandler` takes the place of `cashout_cancel.handler.lambda_handler` (`--runtime lambda`):
each event goes to the artifact's own process through the local Runtime API
(local/lambda_runtime.py), and a failed invocation raises `FunctionError`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cfn_template import load_template
from local.lambda_environment import FunctionConfig, LocalLambda
from local.lambda_runtime import Answer

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
