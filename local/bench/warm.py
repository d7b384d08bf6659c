"""The warm variants in pyperf's workers: each value is one invocation, of a fresh cashout.

The first call of the time function sets the process up as Lambda would (the function's
environment, its code first on the path, stdout and stderr to files the benchmark checks, flushed
line by line) and builds the variant, untimed. The event (local/events.py), the context and the
trace header are built before the clock starts: that is Lambda's work.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from local.events import api_rest_event
from local.lambda_context import LambdaContext

from .services import environment, external_id, trace_header

VARIANTS = ("floor", "handler", "handler-traced", "naive")


def time_function(variant: str, setup: dict[str, Any], first_id: int, out: str) -> Any:
    """pyperf's time function for `variant`: `loops` cancels, their total seconds."""
    built: list[Callable[[int], float]] = []
    ids = iter(range(first_id, sys.maxsize))

    def time_cancels(loops: int) -> float:
        if not built:
            os.environ.update(environment(setup, tracing=variant == "handler-traced"))
            sys.path.insert(0, setup["src"])
            for fd, path in ((1, f"{out}.out"), (2, f"{out}.err")):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda
            built.append(_floor() if variant == "floor" else _handler(variant))
        return sum(built[0](next(ids)) for _ in range(loops))

    return time_cancels


def _floor() -> Callable[[int], float]:
    from .floor import Floor

    floor = Floor()

    def invoke(cashout_id: int) -> float:
        started = time.perf_counter()
        floor.cancel(cashout_id, external_id(cashout_id))
        return time.perf_counter() - started

    return invoke


def _handler(variant: str) -> Callable[[int], float]:
    if variant == "naive":
        from .floor import lambda_handler
    else:
        from cashout_cancel.handler import lambda_handler  # type: ignore[assignment]

    def invoke(cashout_id: int) -> float:
        body = {"external_id": external_id(cashout_id)}
        event = api_rest_event(cashout_id, body, request_id=f"api-{cashout_id}")
        context = LambdaContext()
        if variant == "handler-traced":
            os.environ["_X_AMZN_TRACE_ID"] = trace_header()
        started = time.perf_counter()
        answer = lambda_handler(event, context)
        elapsed = time.perf_counter() - started
        if answer["statusCode"] != 200 or '"CANCELLED"' not in answer["body"]:
            raise RuntimeError(f"the handler did not cancel {cashout_id}: {answer['body']}")
        return elapsed

    return invoke
