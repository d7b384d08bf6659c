"""The fresh processes the benchmark starts; each times itself and writes a JSON report.

    python -m local.bench.fresh {floor,handler,snapstart} WARM REPORT_FD < a line per invocation
    python -m local.bench.fresh bulk ROUNDS FIRST_ID [--floor] REPORT_FD

A cold start is clocked from a ready harness (json, os, sys, time loaded and the event read, as
in Lambda's runtime) to the first answer: no variant pays for the interpreter's start or teardown.
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

    Serve = Callable[[dict[str, Any]], list[float]]

BATCH_SIZE = 16


def floor() -> Serve:
    """boto3 and requests imported; the first call makes the client, reads the secret, cancels."""
    from local.bench.floor import Floor, credentials

    made: list[Floor] = []

    def serve(line: dict[str, Any]) -> list[float]:
        made[:] = made or [Floor(credentials())]
        wall, cpu = time.perf_counter(), time.process_time()
        made[0].cancel(**line["event"])
        return [time.perf_counter() - wall, time.process_time() - cpu]

    return serve


def handler(naive: bool = False) -> Serve:
    """The handler, or the naive one (local/bench/floor.py); tracing as the environment says."""
    if naive:
        from local.bench.floor import lambda_handler as naive_handler

        return _invoking(naive_handler)
    from cashout_cancel.handler import lambda_handler

    return _invoking(lambda_handler)


def snapstart() -> Serve:
    """Imports and the before-snapshot hook (in the snapshot); the first call restores first."""
    from cashout_cancel import snapstart as hooks
    from cashout_cancel.handler import lambda_handler

    hooks.before_snapshot()
    serve = _invoking(lambda_handler)

    def restore_then_serve(line: dict[str, Any]) -> list[float]:  # served once: WARM is 0
        hooks.after_restore()
        return serve(line)

    return restore_then_serve


def _invoking(lambda_handler: Callable[[Any, Any], Any]) -> Serve:
    def serve(line: dict[str, Any]) -> list[float]:
        if line.get("trace"):
            os.environ["_X_AMZN_TRACE_ID"] = line["trace"]  # Lambda sets one per invocation
        context = LambdaContext()
        wall, cpu = time.perf_counter(), time.process_time()
        answer = lambda_handler(line["event"], context)
        took = [time.perf_counter() - wall, time.process_time() - cpu]
        body = answer.get("body") or json.dumps(answer)
        if answer != {"batchItemFailures": []} and '"CANCELLED"' not in body:
            raise RuntimeError(f"the handler did not cancel: {answer}")
        return took

    return serve


VARIANTS = {"floor": floor, "handler": handler, "snapstart": snapstart}
VARIANTS["naive"] = lambda: handler(naive=True)


def bulk(rounds: int, first_id: int, with_floor: bool) -> dict[str, Any]:
    """Rounds of an SQS batch, a direct invoke and the floor's batch: seconds of wall and CPU."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from local.bench.floor import Floor, credentials
    from local.bench.services import invocation
    from local.events import sqs_event

    serve, ids, local = handler(), iter(range(first_id, sys.maxsize)), threading.local()
    secret = credentials()
    pool, events = ThreadPoolExecutor(int(os.environ["BULK_CONCURRENCY"])), boto3.client("events")
    detail = json.dumps({"outcome": "CANCELLED", "statusCode": 200, "caller": "sqs"})
    entry = {"Source": "cashout-cancel", "DetailType": "Cashout Cancel Completed", "Detail": detail}
    entries: list[Any] = [entry | {"EventBusName": os.environ["RESULTS_EVENT_BUS"]}] * 10

    def cancel(cashout_id: int) -> Any:
        local.floor = getattr(local, "floor", None) or Floor(secret)  # a session per thread
        return local.floor.cancel(**invocation("floor", cashout_id)["event"])

    def floor_batch() -> list[float]:
        started = time.perf_counter()
        list(pool.map(cancel, [next(ids) for _ in range(BATCH_SIZE)]))
        cancelled = time.perf_counter()
        events.put_events(Entries=entries)
        return [cancelled - started, time.perf_counter() - cancelled]

    def sqs() -> list[float]:
        messages = [invocation("floor", next(ids))["event"] for _ in range(BATCH_SIZE)]
        return serve({"event": sqs_event(*messages)})

    report: dict[str, Any] = {"sqs": [], "direct": [], "floor": [], "loads": []}
    for round_ in range(-1, rounds):  # round -1 warms up
        steps = (["sqs", "floor"][:: 1 if round_ % 2 else -1]) if with_floor else ["sqs"]
        took = {step: sqs() if step == "sqs" else floor_batch() for step in steps}
        if with_floor:
            took["direct"] = serve(invocation("floor", next(ids)))
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
        serve = VARIANTS[variant]()
        imported = time.perf_counter()
        serve(first)
        served = time.perf_counter()
        for _ in range(int(sys.argv[2])):
            serve(json.loads(sys.stdin.readline()))
        report = {"import_ms": (imported - started) * 1e3, "first_ms": (served - imported) * 1e3}
    with open("/proc/self/status") as status:
        report["rss_kb"] = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    with os.fdopen(report_fd, "w") as out:
        json.dump(report, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
