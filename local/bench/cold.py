"""A cold start: a fresh interpreter imports its variant and serves the first cancel.

    python -m local.bench.cold VARIANT WARM REPORT_FD < a JSON line per invocation

Each line ({"event": ..., "trace": header or null}) is built by the benchmark, as Lambda's
runtime holds the event before it invokes. The clock starts once the harness is ready (json, os,
sys and time loaded, as in Lambda's runtime) and stops at the first answer: the process times
itself, so no variant pays for the interpreter's start or teardown. It then serves WARM more and
writes its times and peak RSS (VmHWM) on REPORT_FD. A variant imports what it needs and returns
(serve, restored): `restored` is when a SnapStart restore begins, or None.
"""

from __future__ import annotations

import json
import os
import sys
import time

from local.lambda_context import LambdaContext

TYPE_CHECKING = False  # typing is not imported here: the variants' own imports pay for it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Serve = Callable[[dict[str, Any]], None]


def floor() -> tuple[Serve, float | None]:
    """boto3 and requests; the first call makes the client, reads the secret and cancels."""
    import boto3

    from local.bench.floor import Floor

    made: list[Floor] = []

    def serve(line: dict[str, Any]) -> None:
        if not made:
            secret = boto3.client("secretsmanager").get_secret_value(
                SecretId=os.environ["D24_SECRET_ID"]
            )
            made.append(Floor(os.environ["D24_BASE_URL"], json.loads(secret["SecretString"])))
        made[0].cancel(line["event"]["cashout_id"], line["event"]["external_id"])

    return serve, None


def handler() -> tuple[Serve, float | None]:
    """The handler; tracing as the environment says."""
    from cashout_cancel.handler import lambda_handler

    return _invoking(lambda_handler), None


def snapstart() -> tuple[Serve, float | None]:
    """Imports and the before-snapshot hook are in the snapshot; the restore starts the clock."""
    from cashout_cancel import snapstart as hooks
    from cashout_cancel.handler import lambda_handler

    hooks.before_snapshot()
    restored = time.perf_counter()
    hooks.after_restore()
    return _invoking(lambda_handler), restored


def _invoking(lambda_handler: Callable[[Any, Any], Any]) -> Serve:
    def serve(line: dict[str, Any]) -> None:
        if line["trace"]:
            os.environ["_X_AMZN_TRACE_ID"] = line["trace"]  # Lambda sets one per invocation
        answer = lambda_handler(line["event"], LambdaContext())
        if answer["statusCode"] != 200:
            raise RuntimeError(f"the handler did not cancel: {answer['body']}")

    return serve


def peak_rss_kb() -> int:
    """VmHWM of this process, in kB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main() -> int:
    """Serve the cold start and WARM more; write the times (ms) and the peak RSS (kB)."""
    variant, warm, report_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.sched_setaffinity(0, {0})  # the measured processes on CPU 0, the services on CPU 1
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda flushes
    first = json.loads(sys.stdin.readline())
    started = time.perf_counter()
    serve, restored = {"floor": floor, "handler": handler, "snapstart": snapstart}[variant]()
    imported = time.perf_counter()
    serve(first)
    served = time.perf_counter()
    for _ in range(warm):
        serve(json.loads(sys.stdin.readline()))
    times = {"import": imported - started, "first": served - imported}
    times["total"] = served - (restored or started)
    with os.fdopen(report_fd, "w") as report:
        json.dump(
            {f"{k}_ms": v * 1e3 for k, v in times.items()} | {"rss_kb": peak_rss_kb()}, report
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
