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

    The first invocation builds what every later one reuses: it imports boto3, makes the Secrets
    Manager client and the session, opens the first connection. All of it lives as long as the
    container, so collecting while it is built finds next to nothing (a few hundred objects) and
    cost ~25 ms of the cold start (`make bench`, docs/performance.md). Once the first answer is
    ready, everything that exists is frozen, out of the collector's reach for good (later
    collections skip ~120,000 long-lived objects), and the collector resumes as before. The
    price: the few hundred objects init left unreachable (~130 kB) are never reclaimed.
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
    """Serve API Gateway, EventBridge, direct and SQS callers alike (CONTRACT section 1)."""
    caller = recognise(event)
    return caller.serve(event, Invocation(context, caller.name))


snapstart.register()
