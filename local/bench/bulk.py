"""The bulk benchmark's worker: the real handler in a fresh process, invoked in-process with SQS
batches (and direct invokes to compare with), measured; the results go to the services' bus.

    python -m local.bench.bulk throughput --rounds R --direct D --batch-size B \
        --first-id ID --result-fd FD --check-file PATH
    python -m local.bench.bulk memory --rounds R --batch-size B --first-id ID ...
    python -m local.bench.bulk floor --rounds R --batch-size B --concurrency C --first-id ID ...

`throughput`: a warm-up round (one batch and one direct invoke, untimed: the first of each kind
builds the bulk pool, the EventBridge client and the connections), then R rounds of one SQS
batch of B messages followed by D direct invokes, each cancelling a fresh pending cashout.
`memory`: R batches in all (the first is the warm-up), then the peak RSS. `floor`: no handler,
the reference for the same work: each round B signed cancels on C threads (local/bench/floor.py,
one keep-alive session per thread), then one PutEvents of ten entries to the same bus, timed
apart. One JSON line goes to the result fd.

How it measures:

- Wall time: `time.perf_counter()` around each handler call, as Lambda would bill the
  invocation; building the event is Lambda's work and falls outside. Publishing the results
  (PutEvents to moto, in the services process) is inside the call and so inside the time.
- CPU time per message: `time.process_time()` of this process around each handler call, divided
  by the messages it served. It counts every thread of the process (the bulk pool's workers, the
  HTTP exchange's watchdog, botocore's), and nothing else runs here between calls. The SQS path
  and the direct path are measured the same way, in the same process, at the same D24 latency,
  interleaved round by round, so that drift and caches touch both alike. The services (D24, moto)
  run in their own process: their CPU is not the function's.
- Peak RSS: VmHWM from /proc/self/status at the end.

The function's stdout (its result lines and EMF documents) is written, unbuffered as Lambda's
runtime writes it, to CHECK_FILE during the warm-up (the benchmark checks it), then to /dev/null.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .lambda_like import LambdaContext, Unbuffered, external_id, peak_rss_kb, pin_to_cpu, request_id
from .sqs_events import batch

Handler = Callable[[Any, Any], Any]


class Bulk:
    """The handler and fresh cashouts from `first_id` on; each call serves new ones."""

    def __init__(self, handler: Handler, first_id: int) -> None:
        self._handler = handler
        self._next_id = first_id
        self._n = 0  # invocations and messages so far, for unique request and message ids
        self.problems: list[str] = []

    def sqs(self, size: int) -> tuple[float, float]:
        """One batch of `size` messages: its wall and CPU seconds."""
        event = batch(self._next_id, size, self._n)
        answer, wall, cpu = self._invoke(event)
        self._next_id += size
        if answer != {"batchItemFailures": []}:
            self.problems.append(f"a batch answered {answer}")
        return wall, cpu

    def direct(self) -> tuple[float, float]:
        """One direct invoke: its wall and CPU seconds."""
        cashout_id = self._next_id
        event = {"cashout_id": cashout_id, "external_id": external_id(cashout_id)}
        answer, wall, cpu = self._invoke(event)
        self._next_id += 1
        if answer.get("outcome") != "CANCELLED":
            self.problems.append(f"a direct invoke answered {answer}")
        return wall, cpu

    def _invoke(self, event: dict[str, Any]) -> tuple[Any, float, float]:
        self._n += 1
        context = LambdaContext(request_id(self._n))
        wall, cpu = time.perf_counter(), time.process_time()
        answer = self._handler(event, context)
        return answer, time.perf_counter() - wall, time.process_time() - cpu


def throughput(bulk: Bulk, rounds: int, size: int, direct: int) -> dict[str, Any]:
    """Interleaved rounds: per batch [messages, wall s, CPU s], per direct [wall s, CPU s]."""
    batches: list[list[float]] = []
    directs: list[list[float]] = []
    for _ in range(rounds):
        batches.append([size, *bulk.sqs(size)])
        directs += [list(bulk.direct()) for _ in range(direct)]
    return {"batches": batches, "direct": directs}


def floor(rounds: int, size: int, concurrency: int, first_id: int) -> dict[str, Any]:
    """Per round, the wall seconds of `size` bare cancels on `concurrency` threads, and of one
    PutEvents of ten entries; the round before them warms the connections, untimed."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from .floor import Floor

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
    credentials = json.loads(secret["SecretString"])
    local = threading.local()  # one Floor (one keep-alive session) per thread

    def cancel(cashout_id: int) -> None:
        if not hasattr(local, "floor"):
            local.floor = Floor(os.environ["D24_BASE_URL"], credentials)
        local.floor.cancel(cashout_id, external_id(cashout_id))

    events = boto3.client("events")
    detail = json.dumps({"outcome": "CANCELLED", "statusCode": 200})
    bus = os.environ["RESULTS_EVENT_BUS"]
    batches: list[list[float]] = []
    puts: list[float] = []
    with ThreadPoolExecutor(concurrency) as pool:
        for round_ in range(rounds + 1):
            ids = range(first_id + round_ * size, first_id + (round_ + 1) * size)
            started = time.perf_counter()
            list(pool.map(cancel, ids))
            cancelled = time.perf_counter()
            events.put_events(
                Entries=[
                    {
                        "Source": "cashout-cancel",
                        "DetailType": "Cashout Cancel Completed",
                        "Detail": detail,
                        "EventBusName": bus,
                    }
                ]
                * 10
            )
            if round_:
                batches.append([size, cancelled - started, 0.0])
                puts.append(time.perf_counter() - cancelled)
    return {"batches": batches, "put_events": puts}


def _redirect_stdout(path: str) -> None:
    sys.stdout.flush()
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(target, 1)
    os.close(target)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("throughput", "memory", "floor"))
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--direct", type=int, default=0, help="direct invokes per round")
    parser.add_argument("--concurrency", type=int, default=8, help="the floor's threads")
    parser.add_argument("--first-id", type=int, required=True)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--check-file", required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one mode and write its JSON line to the result fd."""
    args = _parse(argv)
    pin_to_cpu(0)
    if args.mode == "floor":
        report = floor(args.rounds, args.batch_size, args.concurrency, args.first_id)
        with os.fdopen(args.result_fd, "w") as results:
            results.write(json.dumps(report) + "\n")
        return 0
    sys.stdout = Unbuffered(sys.stdout)
    _redirect_stdout(args.check_file)
    from cashout_cancel.handler import lambda_handler

    bulk = Bulk(lambda_handler, args.first_id)
    warm_up = [[args.batch_size, *bulk.sqs(args.batch_size)]]
    if args.mode == "throughput":
        bulk.direct()
    _redirect_stdout(os.devnull)  # the warm-up's lines are checked; nothing reads the rest
    if args.mode == "throughput":
        report = throughput(bulk, args.rounds, args.batch_size, args.direct)
    else:
        more = [[args.batch_size, *bulk.sqs(args.batch_size)] for _ in range(args.rounds - 1)]
        report = {"batches": warm_up + more}
    report |= {"peak_rss_kb": peak_rss_kb(), "problems": bulk.problems[:5]}
    with os.fdopen(args.result_fd, "w") as results:
        results.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
