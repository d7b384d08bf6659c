"""The fresh processes the benchmark starts, each writing its report (JSON) on REPORT_FD and the
function's stdout line by line, flushed as Lambda's runtime does.

    python -m local.bench.fresh {floor,handler,snapstart} WARM REPORT_FD < a line per invocation
    python -m local.bench.fresh bulk ROUNDS FIRST_ID [--floor] REPORT_FD

A cold start's clock starts once the harness is ready (json, os, sys and time loaded, and the
event read, as in Lambda's runtime) and stops at the first answer: the process times itself, so
no variant pays for the interpreter's start or teardown. WARM more invocations follow, then the
peak RSS (VmHWM). A variant imports what it needs and returns (serve, when a SnapStart restore
begins or None). The bulk run: after a warm-up round, untimed, each round is one SQS batch of B
messages through the handler; with --floor also a direct invoke (CPU per message compared) and,
in alternating order with the batch, the floor: B bare signed cancels on C threads, a keep-alive
session each, then one PutEvents of ten entries (the most a call carries). Wall time is
`perf_counter` around each call, as Lambda bills it; CPU time, `process_time` (all threads).
"""

from __future__ import annotations

import json
import os
import sys
import time

from local.lambda_context import LambdaContext

TYPE_CHECKING = False  # typing is not imported here: a variant's own imports pay for it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Serve = Callable[[dict[str, Any]], Any]

BATCH_SIZE = 16


def floor() -> tuple[Serve, float | None]:
    """boto3 and requests imported; the first call makes the client, reads the secret, cancels."""
    from local.bench.floor import Floor

    made: list[Floor] = []

    def serve(line: dict[str, Any]) -> None:
        made[:] = made or [Floor()]
        made[0].cancel(**line["event"])

    return serve, None


def handler() -> tuple[Serve, float | None]:
    """The handler imported; tracing as the environment says."""
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
    def serve(line: dict[str, Any]) -> list[float]:
        if line.get("trace"):
            os.environ["_X_AMZN_TRACE_ID"] = line["trace"]  # Lambda sets one per invocation
        wall, cpu = time.perf_counter(), time.process_time()
        answer = lambda_handler(line["event"], LambdaContext())
        if (
            answer.get("statusCode", 200) != 200
            or answer.get("outcome", "CANCELLED") != "CANCELLED"
        ):
            raise RuntimeError(f"the handler did not cancel: {answer}")
        if answer.get("batchItemFailures"):
            raise RuntimeError(f"the batch failed: {answer}")
        return [time.perf_counter() - wall, time.process_time() - cpu]

    return serve


def bulk(rounds: int, first_id: int, with_floor: bool) -> dict[str, Any]:
    """The bulk rounds: seconds per call, and the load average after each round."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from local.bench.floor import Floor
    from local.bench.services import external_id
    from local.events import direct_event, sqs_event

    serve, ids, local = handler()[0], iter(range(first_id, sys.maxsize)), threading.local()
    pool, events = ThreadPoolExecutor(int(os.environ["BULK_CONCURRENCY"])), boto3.client("events")
    detail = json.dumps({"outcome": "CANCELLED", "statusCode": 200, "caller": "sqs"})
    entry = {"Source": "cashout-cancel", "DetailType": "Cashout Cancel Completed", "Detail": detail}
    entries = [entry | {"EventBusName": os.environ["RESULTS_EVENT_BUS"]}] * 10

    def cancel(cashout_id: int) -> int:
        local.floor = getattr(local, "floor", None) or Floor()  # a session per thread
        return local.floor.cancel(cashout_id, external_id(cashout_id))

    def floor_batch() -> list[float]:
        started = time.perf_counter()
        list(pool.map(cancel, [next(ids) for _ in range(BATCH_SIZE)]))
        cancelled = time.perf_counter()
        events.put_events(Entries=entries)
        return [cancelled - started, time.perf_counter() - cancelled]

    def sqs() -> list[float]:
        messages = [direct_event(i, external_id(i)) for i in [next(ids) for _ in range(BATCH_SIZE)]]
        return serve({"event": sqs_event(*messages)})

    report: dict[str, Any] = {"sqs": [], "direct": [], "floor": [], "loads": []}
    for round_ in range(-1, rounds):  # round -1 warms up
        steps = (["sqs", "floor"][:: 1 if round_ % 2 else -1]) if with_floor else ["sqs"]
        took = {step: sqs() if step == "sqs" else floor_batch() for step in steps}
        if with_floor:
            took["direct"] = serve({"event": direct_event(i := next(ids), external_id(i))})
        for key, value in (took | {"loads": os.getloadavg()[0]}).items() if round_ >= 0 else ():
            report[key].append(value)
    return report


def main() -> int:
    """Run the cold start (or the bulk rounds) and write the report on REPORT_FD."""
    variant, report_fd = sys.argv[1], int(sys.argv[-1])
    os.sched_setaffinity(0, {0})  # the measured processes on CPU 0, the services on CPU 1
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda flushes
    if variant == "bulk":
        report = bulk(int(sys.argv[2]), int(sys.argv[3]), "--floor" in sys.argv)
    else:
        first = json.loads(sys.stdin.readline())
        started = time.perf_counter()
        serve, restored = {"floor": floor, "handler": handler, "snapstart": snapstart}[variant]()
        imported = time.perf_counter()
        serve(first)
        served = time.perf_counter()
        for _ in range(int(sys.argv[2])):
            serve(json.loads(sys.stdin.readline()))
        report = {"import_ms": (imported - started) * 1e3, "first_ms": (served - imported) * 1e3}
        report["total_ms"] = (served - (restored or started)) * 1e3
    with open("/proc/self/status") as status:
        report["rss_kb"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    with os.fdopen(report_fd, "w") as out:
        json.dump(report, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
