"""A cold start: a fresh interpreter imports what its variant needs and serves the first cancel.

    python -m local.bench.cold VARIANT REPORT_FD WARM < one JSON line per invocation

Each input line is {"event": ..., "trace": header or null}, built by the benchmark before this
process starts (Lambda's runtime has the event before it invokes). The clock starts once the
harness is ready (Python up; json, os, sys and time loaded, as in Lambda's runtime) and stops at
the first answer: the process reports its own times, so nothing is charged for starting the
interpreter or for its teardown, which Lambda never does. It then serves WARM more cancels and
adds its peak RSS (VmHWM) to the report it writes on REPORT_FD.

A variant is a function that imports and builds what it needs and returns (serve, restored):
`serve(item)` answers one input line; `restored` is when a SnapStart restore would begin (None:
the clock starts with the process).
"""

from __future__ import annotations

import json
import os
import sys
import time

from local.lambda_context import LambdaContext

TYPE_CHECKING = False  # typing is not imported at run time: the handler's imports pay for it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Serve = Callable[[dict[str, Any]], None]
    Variant = Callable[[], tuple[Serve, float | None]]


def floor() -> tuple[Serve, float | None]:
    """Import boto3 and requests; the first call makes the client, reads the secret, cancels."""
    import boto3

    from local.bench.floor import Floor

    floors: list[Floor] = []

    def serve(item: dict[str, Any]) -> None:
        if not floors:
            client = boto3.client("secretsmanager")
            secret = client.get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
            floors.append(Floor(os.environ["D24_BASE_URL"], json.loads(secret["SecretString"])))
        floors[0].cancel(item["event"]["cashout_id"], item["event"]["external_id"])

    return serve, None


def handler() -> tuple[Serve, float | None]:
    """Import the handler; tracing follows the environment."""
    from cashout_cancel.handler import lambda_handler

    return _invoking(lambda_handler), None


def snapstart() -> tuple[Serve, float | None]:
    """Import and run the before-snapshot hook (both in the snapshot), then restore."""
    from cashout_cancel import snapstart as hooks
    from cashout_cancel.handler import lambda_handler

    hooks.before_snapshot()
    restored = time.perf_counter()
    hooks.after_restore()
    return _invoking(lambda_handler), restored


VARIANTS: dict[str, Variant] = {
    "floor": floor,
    "handler": handler,
    "snapstart": snapstart,
}


def _invoking(lambda_handler: Callable[[Any, Any], Any]) -> Serve:
    def serve(item: dict[str, Any]) -> None:
        if item["trace"]:
            os.environ["_X_AMZN_TRACE_ID"] = item["trace"]  # Lambda sets one per invocation
        answer = lambda_handler(item["event"], LambdaContext())
        if answer["statusCode"] != 200:
            raise RuntimeError(f"the handler did not cancel: {answer['body']}")

    return serve


def pin_to_cpu(cpu: int) -> None:
    """Keep this process on one CPU: the measured processes on CPU 0, the services on CPU 1."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(0, {cpu})


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


def main() -> int:
    """Serve the cold start and WARM more; report the times (ms) and the peak RSS (kB)."""
    variant, report_fd, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pin_to_cpu(0)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda flushes
    first = json.loads(sys.stdin.readline())
    started = time.perf_counter()
    serve, restored = VARIANTS[variant]()
    imported = time.perf_counter()
    serve(first)
    served = time.perf_counter()
    for _ in range(warm):
        serve(json.loads(sys.stdin.readline()))
    report = {
        "import_ms": (imported - started) * 1000,
        "first_ms": (served - imported) * 1000,
        "total_ms": (served - (restored or started)) * 1000,
        "peak_rss_kb": peak_rss_kb(),
    }
    with os.fdopen(report_fd, "w") as out:
        out.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
