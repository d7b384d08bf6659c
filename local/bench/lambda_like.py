"""What Lambda gives the function, rebuilt for the benchmark: environment, context and events.

Imported by the cold-start child before its clock starts, so it stays small: Lambda's own runtime
has loaded json and os before it imports a handler, too.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from ..function_env import FUNCTION_ENV
from ..lambda_context import LambdaContext as LambdaContext  # noqa: PLC0414 - re-exported

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
EVENT_TEMPLATE = REPO / "events" / "api-rest-cancel.json"


class Unbuffered:
    """Every write flushed, as Lambda's Python runtime wraps stdout (its logs must not wait)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: str) -> int:
        written: int = self.stream.write(data)
        self.stream.flush()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def external_id(cashout_id: int) -> str:
    """The external id of the benchmark's pending cashout `cashout_id`."""
    return f"bench-{cashout_id}"


def request_id(n: int) -> str:
    """A request id shaped like Lambda's (a UUID), cheap to make."""
    return f"bench0000-0000-4000-8000-{n:012d}"


class RestEvents:
    """REST API (payload v1) cancel events, as the template's API sends them, per cashout."""

    def __init__(self) -> None:
        self._template = json.loads(EVENT_TEMPLATE.read_text())

    def cancel(self, cashout_id: int, external_id: str, n: int) -> dict[str, Any]:
        """The event for `POST /cashouts/{cashout_id}/cancel` with a fresh API request id."""
        event = dict(self._template)
        event["path"] = f"/cashouts/{cashout_id}/cancel"
        event["pathParameters"] = {"cashout_id": str(cashout_id)}
        event["body"] = json.dumps({"external_id": external_id})
        context = dict(event["requestContext"])
        context["path"] = f"/prod/cashouts/{cashout_id}/cancel"
        context["requestId"] = f"bench-api-{n:012d}"
        event["requestContext"] = context
        return event


def trace_header() -> str:
    """A sampled `_X_AMZN_TRACE_ID`, new per invocation as Lambda sets it."""
    bits = random.getrandbits(160)
    root = f"1-{int(time.time()):08x}-{bits >> 64:024x}"
    return f"Root={root};Parent={bits & (2**64 - 1):016x};Sampled=1"


def function_environment(
    address: dict[str, Any], *, tracing: bool, xray_port: int, src: Path = SRC
) -> dict[str, str]:
    """The process environment of the deployed function (template.yaml), pointed at the services.

    LAMBDA_TASK_ROOT (the function's code, `src`) is set in both modes, as in Lambda; tracing is
    switched off the way a deployment would switch it off, with POWERTOOLS_TRACE_DISABLED.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "POWERTOOLS_", "D24_", "_X_AMZN", "LAMBDA_"))
    }
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(src), str(REPO)]),
            "LAMBDA_TASK_ROOT": str(src),
            "AWS_LAMBDA_FUNCTION_NAME": LambdaContext.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LambdaContext.memory_limit_in_mb),
            "AWS_REGION": address["region"],
            "AWS_DEFAULT_REGION": address["region"],
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL": address["aws_endpoint_url"],
            "D24_SECRET_ID": address["secret_id"],
            "D24_BASE_URL": address["d24_base_url"],
            **FUNCTION_ENV,
            "POWERTOOLS_METRICS_NAMESPACE": "CashoutCancel",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    )
    if tracing:
        env["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{xray_port}"
        env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        env["_X_AMZN_TRACE_ID"] = trace_header()
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def peak_rss_kb() -> int:
    """VmHWM of this process from /proc/self/status, in kB (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pin_to_cpu(cpu: int) -> None:
    """Keep this process on one CPU (when there are two or more): the client on one, the
    services on another, like two machines, and no migrations between cores mid-measurement."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})
