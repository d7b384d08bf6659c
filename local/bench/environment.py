"""The function's environment as Lambda sets it, pointed at the benchmark's services."""

from __future__ import annotations

import os
import random
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def external_id(cashout_id: int) -> str:
    """The external id of the benchmark's pending cashout `cashout_id`."""
    return f"bench-{cashout_id}"


def trace_header() -> str:
    """A sampled `_X_AMZN_TRACE_ID`, new per invocation as Lambda sets it."""
    bits = random.getrandbits(160)
    root = f"1-{int(time.time()):08x}-{bits >> 64:024x}"
    return f"Root={root};Parent={bits & (2**64 - 1):016x};Sampled=1"


def lambda_variables(services: dict[str, Any], *, tracing: bool, src: str) -> dict[str, str]:
    """The deployed function's variables (template.yaml), pointed at the benchmark's services.

    Tracing off is set the way a deployment sets it, with POWERTOOLS_TRACE_DISABLED.
    """
    from ..function_env import FUNCTION_ENV
    from ..lambda_context import LambdaContext

    env = {
        "LAMBDA_TASK_ROOT": src,
        "AWS_LAMBDA_FUNCTION_NAME": LambdaContext.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LambdaContext.memory_limit_in_mb),
        "AWS_REGION": services["region"],
        "AWS_DEFAULT_REGION": services["region"],
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ENDPOINT_URL": services["aws_endpoint_url"],
        "D24_SECRET_ID": services["secret_id"],
        "D24_BASE_URL": services["d24_base_url"],
        **FUNCTION_ENV,
        "POWERTOOLS_METRICS_NAMESPACE": "CashoutCancel",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    if services.get("results_bus"):
        env["RESULTS_EVENT_BUS"] = services["results_bus"]
    if tracing:
        env["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{services['xray_port']}"
        env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        env["_X_AMZN_TRACE_ID"] = trace_header()
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def process_environment(services: dict[str, Any], *, tracing: bool, src: str) -> dict[str, str]:
    """A fresh process's whole environment: this one's, less anything AWS or Lambda, plus the
    function's variables and its code first on the path."""
    skip = ("AWS_", "POWERTOOLS_", "D24_", "_X_AMZN", "LAMBDA_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(skip)}
    env["PYTHONPATH"] = os.pathsep.join([src, REPO])
    return env | lambda_variables(services, tracing=tracing, src=src)
