"""The Lambda entry: recognise the caller, adapt its event, run the cancel, shape the answer."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable
from typing import Any

from . import runtime, snapstart
from .callers import recognise
from .cancel import configuration_error
from .deadline import Deadline
from .errors import ConfigurationError
from .observability import logger, metrics, record_result, traced
from .outcomes import CancelResult, Outcome

Handler = Callable[[Any, Any], Any]


def _first_call_uncollected(handler: Handler) -> Handler:
    """Run the first invocation with the garbage collector paused, then freeze what it built.

    The first invocation builds what every later one reuses: it imports boto3, makes the Secrets
    Manager client and the session, opens the first connection. All of it lives as long as the
    container, so collecting while it is built finds next to nothing (a few hundred objects) and
    cost ~25 ms of the cold start (`make bench`, README, Performance). Once the first answer is
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
def lambda_handler(event: Any, context: Any) -> Any:
    """Serve API Gateway, EventBridge and direct callers alike (CONTRACT section 1)."""
    started = time.perf_counter()
    caller = recognise(event)
    correlation_id = caller.correlation_id(event) or _request_id(context)
    logger.set_correlation_id(correlation_id)
    try:
        result = _run(caller.to_request(event), context)
    except Exception:
        # A bug: the caller gets a clean 500 and the log has the traceback and correlation id.
        logger.exception("unexpected error while cancelling")
        result = CancelResult(Outcome.INTERNAL_ERROR)
    try:
        record_result(result, caller.name, (time.perf_counter() - started) * 1000)
    finally:
        metrics.flush_metrics()
    return caller.respond(result, correlation_id)


def _run(request: Any, context: Any) -> CancelResult:
    if isinstance(request, CancelResult):
        return request  # refused before anything was sent
    try:
        settings, service = runtime.current()
    except ConfigurationError as exc:
        return configuration_error(request, exc)
    return service.cancel(request, Deadline.from_context(context, settings.deadline_margin))


def _request_id(context: Any) -> str | None:
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) else None


snapstart.register()
