"""A warm worker: one variant in its own process, driven by the benchmark in interleaved rounds.

    python -m local.bench.warm {floor,handler,handler-traced,naive} --result-fd N --check-file P

Commands arrive on stdin, one a line: `run FIRST_ID COUNT` cancels COUNT fresh pending cashouts
from FIRST_ID on and answers, on the result fd, a JSON list of per-invocation nanoseconds. End of
input ends the worker. The function's stdout goes to `--check-file` during the first batch (the
warm-up; the benchmark checks the log and metric lines there), then to /dev/null: the measured
invocations pay for writing their lines, as in Lambda, but nothing reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .lambda_like import (
    LambdaContext,
    RestEvents,
    Unbuffered,
    external_id,
    pin_to_cpu,
    request_id,
    trace_header,
)

VARIANTS = ("floor", "handler", "handler-traced", "naive")
Invoke = Callable[[int, int], int]  # (cashout id, invocation number) -> nanoseconds


def _floor() -> Invoke:
    import boto3

    from .floor import Floor

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
    floor = Floor(os.environ["D24_BASE_URL"], json.loads(secret["SecretString"]))

    def invoke(cashout_id: int, n: int) -> int:
        ext = external_id(cashout_id)
        started = time.perf_counter_ns()
        floor.cancel(cashout_id, ext)
        return time.perf_counter_ns() - started

    return invoke


def _handler(handler: Callable[[Any, Any], Any], *, traced: bool) -> Invoke:
    events = RestEvents()

    def invoke(cashout_id: int, n: int) -> int:
        # Lambda builds the event and the context, and sets the trace header, before the call.
        event = events.cancel(cashout_id, external_id(cashout_id), n)
        context = LambdaContext(request_id(n))
        if traced:
            os.environ["_X_AMZN_TRACE_ID"] = trace_header()
        started = time.perf_counter_ns()
        response = handler(event, context)
        elapsed = time.perf_counter_ns() - started
        if response["statusCode"] != 200 or '"CANCELLED"' not in response["body"]:
            raise RuntimeError(f"the handler did not cancel {cashout_id}: {response['body']}")
        return elapsed

    return invoke


def _build(variant: str) -> Invoke:
    if variant == "floor":
        return _floor()
    if variant == "naive":
        from .naive_handler import lambda_handler as naive

        return _handler(naive, traced=False)
    from cashout_cancel.handler import lambda_handler

    return _handler(lambda_handler, traced=variant == "handler-traced")


def _redirect_stdout(path: str) -> None:
    sys.stdout.flush()
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(target, 1)
    os.close(target)


def main(argv: list[str] | None = None) -> int:
    """Serve `run` commands until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--check-file", required=True)
    args = parser.parse_args(argv)
    results = os.fdopen(args.result_fd, "w")
    pin_to_cpu(0)
    sys.stdout = Unbuffered(sys.stdout)
    _redirect_stdout(args.check_file)
    invoke = _build(args.variant)
    n = 0
    for batch, line in enumerate(sys.stdin):
        command, first, count = line.split()
        if command != "run":
            raise SystemExit(f"unknown command {line!r}")
        samples = []
        for cashout_id in range(int(first), int(first) + int(count)):
            n += 1
            samples.append(invoke(cashout_id, n))
        if batch == 0:  # the warm-up is checked; from now on nothing reads the lines
            _redirect_stdout(os.devnull)
        results.write(json.dumps(samples) + "\n")
        results.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
