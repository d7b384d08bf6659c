"""The bulk worker: the handler in a fresh process on SQS batches and, between them, the floor
of the same work; results go to moto's EventBridge.

    python -m local.bench.bulk ROUNDS FIRST_ID [--floor] REPORT_FD

A warm-up round (untimed: clients, sessions, connections), then ROUNDS rounds of one SQS batch of
B messages through the handler; with --floor, also one direct invoke (for CPU per message) and,
in alternating order with the batch, the floor: B bare signed cancels on C threads with a
keep-alive `requests` session each, then one PutEvents of ten entries (the most a call carries).
Wall time is `perf_counter` around each call, as Lambda bills it; CPU time is this process's
`process_time` (all its threads) around each handler call.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from typing import Any

from local.events import direct_event, sqs_event
from local.lambda_context import LambdaContext

from .cold import peak_rss_kb
from .services import external_id

BATCH_SIZE = 16
CONCURRENCY = int(os.environ.get("BULK_CONCURRENCY", "8"))  # the function's own setting


def _floor() -> Callable[[list[int]], list[float]]:
    import boto3

    from .floor import Floor

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
    credentials, local = json.loads(secret["SecretString"]), threading.local()

    def cancel(cashout_id: int) -> None:
        if not hasattr(local, "floor"):
            local.floor = Floor(os.environ["D24_BASE_URL"], credentials)
        local.floor.cancel(cashout_id, external_id(cashout_id))

    pool, events = ThreadPoolExecutor(CONCURRENCY), boto3.client("events")
    detail = json.dumps({"outcome": "CANCELLED", "statusCode": 200, "caller": "sqs"})
    entry = {"Source": "cashout-cancel", "DetailType": "Cashout Cancel Completed"}
    entries = [entry | {"Detail": detail, "EventBusName": os.environ["RESULTS_EVENT_BUS"]}] * 10

    def batch(ids: list[int]) -> list[float]:
        started = time.perf_counter()
        list(pool.map(cancel, ids))
        cancelled = time.perf_counter()
        events.put_events(Entries=entries)
        return [cancelled - started, time.perf_counter() - cancelled]

    return batch


def main() -> int:
    """Run the rounds; write the report (seconds per call, peak RSS in kB) on REPORT_FD."""
    rounds, first_id, report_fd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[-1])
    os.sched_setaffinity(0, {0})  # the services run on CPU 1
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda flushes
    from cashout_cancel.handler import lambda_handler

    ids, problems = count(first_id), []

    def invoke(event: dict[str, Any], expected: Any) -> list[float]:
        wall, cpu = time.perf_counter(), time.process_time()
        answer = lambda_handler(event, LambdaContext())
        took = [time.perf_counter() - wall, time.process_time() - cpu]
        problems.extend([] if answer == expected or answer.get("outcome") == expected else [answer])
        return took

    def sqs() -> list[float]:
        bodies = [direct_event(i, external_id(i)) for i in (next(ids) for _ in range(BATCH_SIZE))]
        return invoke(sqs_event(*bodies), {"batchItemFailures": []})

    def direct() -> list[float]:
        cashout_id = next(ids)
        return invoke(direct_event(cashout_id, external_id(cashout_id)), "CANCELLED")

    floor = _floor() if "--floor" in sys.argv else None
    report: dict[str, list[Any]] = {"sqs": [], "direct": [], "floor": []}
    for round_ in range(-1, rounds):  # round -1 is the warm-up
        took = {}
        for step in (("sqs", "floor") if round_ % 2 else ("floor", "sqs")) if floor else ("sqs",):
            took[step] = (
                floor([next(ids) for _ in range(BATCH_SIZE)])
                if floor and step == "floor"
                else sqs()
            )
        took |= {"direct": direct()} if floor else {}
        for key, seconds in took.items() if round_ >= 0 else ():
            report[key].append(seconds)
    with os.fdopen(report_fd, "w") as out:
        json.dump(report | {"rss_kb": peak_rss_kb(), "problems": problems[:5]}, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
