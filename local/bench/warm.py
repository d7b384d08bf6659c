"""The warm variants, as pyperf worker processes run them: each timed value is one invocation.

pyperf starts a worker per variant and round; its first call of the time function sets up the
process as Lambda would (the function's environment, its code first on the path, stdout flushed
line by line) and builds the variant, untimed. The values then time one cancel each, of a fresh
pending cashout: the handler on a REST API event from local/events.py (building the event is
Lambda's work and is not timed), the floor's signed request, or the naive handler. The function's
stdout and stderr go to files, which the benchmark checks.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from local.events import api_rest_event
from local.lambda_context import LambdaContext

from .environment import external_id, lambda_variables, trace_header

VARIANTS = ("floor", "handler", "handler-traced", "naive")
Invoke = Callable[[int], float]  # cashout id -> seconds


def time_function(
    variant: str, services: dict[str, Any], src: str, first_id: int, out: str
) -> Callable[[int], float]:
    """pyperf's time function for `variant`: `loops` cancels, their total seconds."""
    built: list[Invoke] = []
    ids = iter(range(first_id, sys.maxsize))

    def time_cancels(loops: int) -> float:
        if not built:
            built.append(_build(variant, services, src, out))
        return sum(built[0](next(ids)) for _ in range(loops))

    return time_cancels


def _build(variant: str, services: dict[str, Any], src: str, out: str) -> Invoke:
    os.environ.update(lambda_variables(services, tracing=variant == "handler-traced", src=src))
    sys.path.insert(0, src)
    for fd, path in ((1, f"{out}.out"), (2, f"{out}.err")):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda flushes
    if variant == "floor":
        return _floor()
    if variant == "naive":
        from .naive_handler import lambda_handler as naive

        return _handler(naive, traced=False)
    from cashout_cancel.handler import lambda_handler

    return _handler(lambda_handler, traced=variant == "handler-traced")


def _floor() -> Invoke:
    import json

    import boto3

    from .floor import Floor

    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
    floor = Floor(os.environ["D24_BASE_URL"], json.loads(secret["SecretString"]))

    def invoke(cashout_id: int) -> float:
        started = time.perf_counter()
        floor.cancel(cashout_id, external_id(cashout_id))
        return time.perf_counter() - started

    return invoke


def _handler(handler: Callable[[Any, Any], Any], *, traced: bool) -> Invoke:
    def invoke(cashout_id: int) -> float:
        # Lambda builds the event and the context, and sets the trace header, before the call.
        event = api_rest_event(
            cashout_id, {"external_id": external_id(cashout_id)}, request_id=f"api-{cashout_id}"
        )
        context = LambdaContext()
        if traced:
            os.environ["_X_AMZN_TRACE_ID"] = trace_header()
        started = time.perf_counter()
        response = handler(event, context)
        elapsed = time.perf_counter() - started
        if response["statusCode"] != 200 or '"CANCELLED"' not in response["body"]:
            raise RuntimeError(f"the handler did not cancel {cashout_id}: {response['body']}")
        return elapsed

    return invoke
