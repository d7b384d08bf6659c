"""The Lambda entry: recognise the caller, adapt its event, run the cancel, shape the answer."""

from __future__ import annotations

from typing import Any

from . import snapstart
from .callers import recognise
from .invocation import Invocation
from .observability import metrics, traced


@traced
@metrics.log_metrics
def lambda_handler(event: Any, context: Any) -> Any:
    """Serve API Gateway, EventBridge, direct and SQS callers alike (CONTRACT section 1)."""
    caller = recognise(event)
    return caller.serve(event, Invocation(context, caller.name, publishes=caller.publishes))


snapstart.register()
