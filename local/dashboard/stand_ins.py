"""What AWS measures around the function, measured in-process instead, for a local picture.

Lambda's Duration and Errors, and API Gateway's 4XX/5XX and latencies, come from outside the
function: a local run has no Lambda service and no API Gateway. What can be measured honestly is
each invocation's wall time and whether it raised, and the status an API caller got. These are
written as EMF documents under the same metric identities the dashboard reads (the names that
widgets.placeholders gives the function and the API), so they flow through the same drawing;
render.py marks every panel fed by them as measured locally. Throttles, concurrency and the
queues' depths have no local stand-in: those panels are AWS-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from local.cfn_template import load_template
from local.dashboard.widgets import FUNCTION_NAME, STACK_NAME


@dataclass(frozen=True)
class Invocation:
    """One handler call of a local run, as AWS would have seen it from outside."""

    timestamp_ms: int
    duration_ms: float
    raised: bool
    api_status: int | None  # the HTTP status an API caller got; None for other callers


def documents(invocations: list[Invocation]) -> list[dict[str, Any]]:
    """EMF documents for AWS/Lambda (every call) and AWS/ApiGateway (API calls)."""
    stage = load_template()["Resources"]["CancelCashoutApi"]["Properties"]["StageName"]
    found = []
    for call in invocations:
        found.append(_lambda(call))
        if call.api_status is not None:
            found.append(_api(call, call.api_status, stage))
    return found


def _lambda(call: Invocation) -> dict[str, Any]:
    return _document(
        call.timestamp_ms,
        "AWS/Lambda",
        {"FunctionName": FUNCTION_NAME},
        {"Duration": call.duration_ms, "Errors": 1.0 if call.raised else 0.0},
    )


def _api(call: Invocation, status: int, stage: str) -> dict[str, Any]:
    # No gateway in front: its latency here is the handler's, and IntegrationLatency the same.
    return _document(
        call.timestamp_ms,
        "AWS/ApiGateway",
        {"ApiName": STACK_NAME, "Stage": stage},
        {
            "4XXError": 1.0 if 400 <= status < 500 else 0.0,
            "5XXError": 1.0 if status >= 500 else 0.0,
            "Latency": call.duration_ms,
            "IntegrationLatency": call.duration_ms,
        },
    )


def _document(
    timestamp_ms: int, namespace: str, dimensions: dict[str, str], values: dict[str, float]
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name} for name in values],
                }
            ],
        },
        **dimensions,
        **values,
    }
