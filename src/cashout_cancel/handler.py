"""The Lambda entry: recognise the caller, adapt its event, run the cancel, shape the answer."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any

from . import snapstart
from .callers import recognise
from .invocation import Invocation
from .observability import metrics, traced

Handler = Callable[[Any, Any], Any]


def _first_call_uncollected(handler: Handler) -> Handler:
    """Run the first invocation with the garbage collector paused, then freeze what it built.

    The first invocation builds what every later one reuses (the AWS SDK's client when the
    secret is read through it, the D24 session, the first connection); all of it lives as long
    as the container, so collecting while it is built finds next to nothing and is a measurable
    part of a cold start (docs/performance.md). Once the first answer is ready, everything that
    exists is frozen out of the collector's reach for good, and the collector resumes; the
    price is the few objects the first call left unreachable, never reclaimed.
    """
    pending = True

    @functools.wraps(handler)
    def first_or_warm(event: Any, context: Any) -> Any:
        nonlocal pending
        if not pending:
            return handler(event, context)
        pending = False
        collecting = gc.isenabled()
        gc.disable()
        try:
            return handler(event, context)
        finally:
            gc.freeze()
            if collecting:
                gc.enable()

    return first_or_warm


@_first_call_uncollected
@traced
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> Any:
    """Serve API Gateway, EventBridge, direct and SQS callers alike (docs/contract.md section 1)."""
    caller = recognise(event)
    return caller.serve(event, Invocation(context, caller.name, publishes=caller.publishes))


snapstart.register()
