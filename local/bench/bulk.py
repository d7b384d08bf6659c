"""The bulk benchmark's worker: the real handler in a fresh process on SQS batches, with the floor
of the same work measured between its batches; the results go to moto's EventBridge.

    python -m local.bench.bulk {throughput,memory} --rounds R --batch-size B --concurrency C \
        --first-id ID --report-fd FD

`throughput`: a warm-up round, untimed (the first batch builds the handler's clients and
connections, the first floor batch its sessions), then R rounds, in alternating order, of:
one SQS batch of B messages through the handler, one direct invoke, and the floor: B bare signed
cancels on C threads with a keep-alive `requests` session each, then one PutEvents of ten
entries (the most one call carries). `memory`: R batches, then the peak RSS.

Wall time is `time.perf_counter()` around each call, as Lambda bills it; CPU time is
`time.process_time()` of this process around each handler call (every thread of it: the bulk
pool's, the watchdog's, botocore's), divided by the messages served. The function's stdout, line
by line as Lambda flushes it, goes wherever the benchmark points this process's stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.events import direct_event, sqs_event
from local.lambda_context import LambdaContext

from .cold import peak_rss_kb, pin_to_cpu
from .environment import external_id


class Handler:
    """The handler, invoked with fresh cashouts from `first_id` on; wall and CPU per call."""

    def __init__(self, handler: Callable[[Any, Any], Any], first_id: int) -> None:
        self._handler, self._next_id = handler, first_id
        self.problems: list[str] = []

    def take(self, count: int) -> range:
        """The next `count` unused cashout ids."""
        ids = range(self._next_id, self._next_id + count)
        self._next_id += count
        return ids

    def batch(self, size: int) -> list[float]:
        """One SQS batch of `size` messages: [messages, wall s, CPU s]."""
        bodies = [direct_event(i, external_id(i)) for i in self.take(size)]
        answer, wall, cpu = self._invoke(sqs_event(*bodies))
        if answer != {"batchItemFailures": []}:
            self.problems.append(f"a batch answered {answer}")
        return [size, wall, cpu]

    def direct(self) -> list[float]:
        """One direct invoke: [wall s, CPU s]."""
        (cashout_id,) = self.take(1)
        answer, wall, cpu = self._invoke(direct_event(cashout_id, external_id(cashout_id)))
        if answer.get("outcome") != "CANCELLED":
            self.problems.append(f"a direct invoke answered {answer}")
        return [wall, cpu]

    def _invoke(self, event: dict[str, Any]) -> tuple[Any, float, float]:
        context = LambdaContext()
        wall, cpu = time.perf_counter(), time.process_time()
        answer = self._handler(event, context)
        return answer, time.perf_counter() - wall, time.process_time() - cpu


class Floor:
    """B bare cancels on C threads, one keep-alive session each, then one PutEvents."""

    def __init__(self, concurrency: int) -> None:
        import boto3

        from .floor import Floor as Session

        client = boto3.client("secretsmanager")
        secret = client.get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
        credentials = json.loads(secret["SecretString"])
        local = threading.local()

        def cancel(cashout_id: int) -> None:
            if not hasattr(local, "session"):
                local.session = Session(os.environ["D24_BASE_URL"], credentials)
            local.session.cancel(cashout_id, external_id(cashout_id))

        self._cancel, self._pool = cancel, ThreadPoolExecutor(concurrency)
        self._events = boto3.client("events")
        detail = {"outcome": "CANCELLED", "statusCode": 200, "caller": "sqs", "request_id": "x"}
        entry = {
            "Source": "cashout-cancel",
            "DetailType": "Cashout Cancel Completed",
            "Detail": json.dumps(detail),
            "EventBusName": os.environ["RESULTS_EVENT_BUS"],
        }
        self._entries = [entry] * 10

    def batch(self, ids: range) -> list[float]:
        """The cancels of `ids`, then one PutEvents: [messages, cancels' wall s, PutEvents' s]."""
        started = time.perf_counter()
        list(self._pool.map(self._cancel, ids))
        cancelled = time.perf_counter()
        self._events.put_events(Entries=self._entries)
        return [len(ids), cancelled - started, time.perf_counter() - cancelled]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("throughput", "memory"))
    for option in ("--rounds", "--batch-size", "--concurrency", "--first-id", "--report-fd"):
        parser.add_argument(option, type=int, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one mode and write its report, one JSON line, to the report fd."""
    args = _parse(argv)
    pin_to_cpu(0)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda flushes
    from cashout_cancel.handler import lambda_handler

    handler, size = Handler(lambda_handler, args.first_id), args.batch_size
    report: dict[str, Any] = {"batches": [handler.batch(size)]}
    if args.mode == "throughput":
        floor = Floor(args.concurrency)
        handler.direct()
        floor.batch(handler.take(size))
        report = {"batches": [], "direct": [], "floor": []}
        for round_ in range(args.rounds):
            for step in (0, 1) if round_ % 2 else (1, 0):
                if step:
                    report["batches"].append(handler.batch(size))
                    report["direct"].append(handler.direct())
                else:
                    report["floor"].append(floor.batch(handler.take(size)))
    else:
        report["batches"] += [handler.batch(size) for _ in range(args.rounds - 1)]
    report |= {"peak_rss_kb": peak_rss_kb(), "problems": handler.problems[:5]}
    with os.fdopen(args.report_fd, "w") as out:
        out.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
