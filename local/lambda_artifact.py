"""The built artifact as the local tools run it: template.yaml's function, the local build
(`make lambda-build`), the environment Lambda would give it, and a handler-shaped entry.

`RuntimeHandler` takes the place of `cashout_cancel.handler.lambda_handler` in the demo and the
local API (`--runtime lambda`): each event goes to the artifact's own process through the local
Runtime API (local/lambda_runtime.py), and a failed invocation raises `FunctionError`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cfn_template import load_template
from local.function_env import FUNCTION_ENV
from local.lambda_environment import FunctionConfig, LocalLambda
from local.lambda_runtime import Answer

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yaml"
FUNCTION_ID = "CancelCashoutFunction"  # the template's logical id, and sam build's folder name
DEFAULT_BUILD_DIR = REPO / ".aws-sam" / "local" / "python"  # make lambda-build's default


@dataclass(frozen=True)
class TemplateFunction:
    """The function's properties in template.yaml that Lambda acts on."""

    handler: str
    timeout_seconds: float
    memory_mb: int
    runtime: str
    name: str = "cashout-cancel"


def template_function(template: Path = TEMPLATE, logical_id: str = FUNCTION_ID) -> TemplateFunction:
    """Handler, Timeout, MemorySize and Runtime of the function, Globals included."""
    document = load_template(template)
    properties = {
        **((document.get("Globals") or {}).get("Function") or {}),
        **document["Resources"][logical_id]["Properties"],
    }
    return TemplateFunction(
        handler=str(properties["Handler"]),
        timeout_seconds=float(properties.get("Timeout", 3)),  # Lambda's default
        memory_mb=int(properties.get("MemorySize", 128)),
        runtime=str(properties["Runtime"]),
    )


def function_environment(
    *,
    d24_base_url: str,
    secret_id: str,
    aws_endpoint_url: str,
    results_event_bus: str | None = None,
    log_level: str = "INFO",
) -> dict[str, str]:
    """The template's variables, its parameters' values for local runs, and the local services.

    Tracing is off (there is no X-Ray daemon); credentials are dummies and no ~/.aws file is read,
    so nothing here can reach a real account.
    """
    results = {"RESULTS_EVENT_BUS": results_event_bus} if results_event_bus else {}
    return {
        **FUNCTION_ENV,
        **results,
        "D24_SECRET_ID": secret_id,
        "D24_BASE_URL": d24_base_url,
        "POWERTOOLS_METRICS_NAMESPACE": "CashoutCancel",
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def function_config(
    build_dir: Path = DEFAULT_BUILD_DIR,
    *,
    environment: Mapping[str, str],
    timeout_seconds: float | None = None,
    handler: str | None = None,
    task_root: Path | None = None,
    snap_start: bool = False,
) -> FunctionConfig:
    """How Lambda would run the build in `build_dir`: the template's handler, timeout and memory
    unless given, on the interpreter the build was made for."""
    build_dir = build_dir.resolve()  # the runtime runs in the task root: no relative paths
    marker = build_dir / "python"
    if not marker.is_file():
        raise FileNotFoundError(f"no local build in {build_dir}: run `make lambda-build`")
    python = marker.read_text(encoding="utf-8").strip()
    spec = template_function()
    version = interpreter_version(python)
    return FunctionConfig(
        task_root=(task_root or build_dir / FUNCTION_ID).resolve(),
        handler=handler or spec.handler,
        timeout_seconds=spec.timeout_seconds if timeout_seconds is None else timeout_seconds,
        runtime_dir=build_dir / "runtime",
        python=python,
        name=spec.name,
        memory_mb=spec.memory_mb,
        # As Lambda names its runtimes; awslambdaric polls on a thread from python3.12 on.
        environment={"AWS_EXECUTION_ENV": f"AWS_Lambda_python{version}", **environment},
        snap_start=snap_start,
    )


def interpreter_version(python: str) -> str:
    """major.minor of an interpreter, e.g. "3.11"."""
    command = [python, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


class FunctionError(Exception):
    """An invocation Lambda reports as failed (X-Amz-Function-Error: Unhandled)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.error_type = answer.error_type
        message = answer.payload.get("errorMessage") if isinstance(answer.payload, dict) else None
        super().__init__(f"{self.error_type}: {message}")


class RuntimeHandler:
    """A stand-in for `lambda_handler(event, context)` that runs the event through the artifact.

    The context is not passed on: the local Runtime API hands the runtime its own request id and
    deadline, and awslambdaric builds the context from them.
    """

    def __init__(self, function: LocalLambda) -> None:
        self.function = function

    def __call__(self, event: Any, context: Any = None) -> Any:
        answer = self.function.invoke(event)
        if answer.kind != "response":
            raise FunctionError(answer)
        return answer.payload
