"""The Lambda entry: recognise the caller, adapt its event, run the cancel, shape the answer."""

from __future__ import annotations

import time
from typing import Any

from . import runtime, snapstart
from .callers import recognise
from .deadline import Deadline
from .errors import ConfigurationError
from .observability import logger, metrics, record_result, traced
from .outcomes import CancelResult, Outcome


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
        margin = runtime.settings().deadline_margin
        service = runtime.service()
    except ConfigurationError as exc:
        return CancelResult(
            Outcome.CONFIGURATION_ERROR,
            cashout_id=request.cashout_id,
            external_id=request.external_id,
            message=f"Configuration error: {exc}.",
        )
    return service.cancel(request, Deadline.from_context(context, margin))


def _request_id(context: Any) -> str | None:
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) else None


snapstart.register()
