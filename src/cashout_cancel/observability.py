"""Logger, Metrics and Tracer: created once per container, here and nowhere else."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .cancel.outcomes import CancelResult, Outcome
from .d24.client import CallResult, CallTracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "cashout-cancel"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "CashoutCancel"

# Every metric the function emits, by name. Each is published twice (EMF dimension sets): under
# `service` alone, and under `service` and `caller` (one of CALLERS). The dashboard and alarms in
# template.yaml are built from these names; a test holds the two together.
OUTCOME_METRICS = tuple(outcome.value for outcome in Outcome)  # a Count per result, by outcome
RESULTS_METRIC = "Results"  # a Count per result, whatever its outcome (denominator of shares)
LATENCY_METRIC = "UpstreamLatency"  # Milliseconds, per D24 attempt
PUBLISHED_METRIC = "ResultsPublished"  # result events put on RESULTS_EVENT_BUS
NOT_PUBLISHED_METRIC = "ResultsNotPublished"  # results that could not be published (retried)
BATCH_ITEM_FAILURES_METRIC = "BatchItemFailures"  # SQS messages handed back for redelivery
METRIC_NAMES = (
    *OUTCOME_METRICS,
    RESULTS_METRIC,
    LATENCY_METRIC,
    PUBLISHED_METRIC,
    NOT_PUBLISHED_METRIC,
    BATCH_ITEM_FAILURES_METRIC,
)
CALLER_DIMENSION = "caller"
CALLERS = ("api_gateway", "eventbridge", "direct", "sqs")


def _decode_json_message(message: Any) -> Any:
    """Decode a log message only when it looks like a JSON document.

    Powertools turns a message that is a JSON document into an object, and by default tries
    `json.loads` on every message to find out; ours are sentences, and the failed attempt (an
    exception raised and caught) was about a sixth of the result line's cost (`make bench`).
    """
    if isinstance(message, str) and message[:1] in ("{", "["):
        return json.loads(message)
    return message


logger = Logger(service=SERVICE, json_deserializer=_decode_json_message)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# botocore logs whole responses at DEBUG, GetSecretValue's included: whatever the root logger's
# level (Lambda's log-level controls can lower it), these libraries never log below WARNING.
for _name in ("botocore", "boto3", "urllib3", "requests"):
    logging.getLogger(_name).setLevel(logging.WARNING)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled(environ: Any = os.environ) -> bool:
    """Tracing runs only in Lambda and unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    disabled = environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower()
    if disabled in ("1", "true", "yes", "on"):
        return False
    local = environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE")
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not local


def traced(handler: Handler) -> Handler:
    """Wrap the handler with Powertools Tracer, importing the X-Ray SDK only when tracing is on."""
    if not tracing_enabled():
        return handler
    return _tracer().capture_lambda_handler(handler, capture_response=False)  # type: ignore[no-any-return]


@cache
def _tracer() -> Any:
    from aws_lambda_powertools import Tracer

    # Nothing patched at import: patching botocore imports botocore.client (tens of
    # milliseconds of a cold start that may never use the SDK), so it is patched when the first
    # AWS client is built (trace_aws_sdk). requests is not patched either: its patch wraps
    # Session.request, which the D24 exchange never calls (HTTPAdapter.send, d24/exchange.py);
    # D24 calls are traced by the client's hook (d24_call_tracer).
    return Tracer(service=SERVICE, auto_patch=False)


def trace_aws_sdk() -> None:
    """Make every AWS SDK call a subsegment, from now on (called before the first client is
    built; the X-Ray SDK patches a module once)."""
    if tracing_enabled():
        _tracer().patch(["botocore"])


def d24_call_tracer() -> CallTracer | None:
    """The D24 client's hook that makes each call (cancel, status look-up) a subsegment
    `## D24 cancel` / `## D24 status`, annotated with the HTTP status and the attempts made, and
    nothing of the request; None when tracing is off."""
    if not tracing_enabled():
        return None
    tracer = _tracer()

    def trace(name: str, call: Callable[[], CallResult]) -> CallResult:
        with tracer.provider.in_subsegment(f"## D24 {name}") as subsegment:
            result = call()
            if subsegment is not None:  # None when X-Ray has no segment to attach it to
                subsegment.put_annotation("d24_attempts", result.sent)
                if result.reply is not None:
                    subsegment.put_annotation("d24_http_status", result.reply.http_status)
                if result.no_answer is not None:
                    subsegment.put_annotation("d24_no_answer", result.no_answer.value)
            return result

    return trace


def secret_read_fell_back(reason: str) -> None:
    """The extension was there but did not serve a secret read; the SDK read it instead."""
    logger.warning(
        "secret read through the SDK: the secrets extension did not serve it",
        extra={"reason": reason},
    )


# Powertools' metric buffer is not safe to add to from several threads at once (a bulk batch's
# cancels run side by side): every addition goes through this lock.
_metrics_lock = threading.Lock()


def _add(name: str, unit: MetricUnit, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)


def use_caller_dimension(caller: str) -> None:
    """Publish this invocation's metrics under `caller` too (a second EMF dimension set)."""
    with _metrics_lock:
        metrics.add_dimensions(service=SERVICE, **{CALLER_DIMENSION: caller})


def record_latency(milliseconds: float) -> None:
    """One D24 attempt's latency, as the UpstreamLatency metric."""
    _add(LATENCY_METRIC, MetricUnit.Milliseconds, milliseconds)


def record_publishing(published: int, not_published: int) -> None:
    """How many results were put on the bus, and how many could not be (and will be retried)."""
    if published:
        _add(PUBLISHED_METRIC, MetricUnit.Count, published)
    if not_published:
        _add(NOT_PUBLISHED_METRIC, MetricUnit.Count, not_published)


def record_batch_item_failures(count: int) -> None:
    """SQS messages handed back for redelivery."""
    _add(BATCH_ITEM_FAILURES_METRIC, MetricUnit.Count, count)


def record_result(
    result: CancelResult, caller: str, correlation_id: str, duration_ms: float
) -> None:
    """The result line (correlation id, outcome, cashout_id, merchant) and the per-outcome
    metric."""
    _add(result.outcome.value, MetricUnit.Count, 1)
    _add(RESULTS_METRIC, MetricUnit.Count, 1)
    log = logger.error if result.status_code >= 500 else logger.info
    log(
        "cancel finished",
        extra={
            "correlation_id": correlation_id,
            "caller": caller,
            "cashout_id": result.cashout_id,
            # Named accounts only (None is left out of the line): outcomes by account are read
            # from here with Logs Insights, never from a metric dimension (section 7).
            "merchant": result.merchant,
            "outcome": result.outcome.value,
            "status_code": result.status_code,
            "cashout_status": result.status.code if result.status else None,
            "upstream": result.upstream.to_dict() if result.upstream else None,
            "secret_source": result.secret_source,
            "duration_ms": round(duration_ms, 1),
        },
    )
