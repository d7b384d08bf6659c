"""Observability (docs/contract.md section 7): the JSON result line with correlation id, cashout_id
and outcome; an EMF metric per outcome and the upstream latency."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local.d24_sandbox import D24Sandbox, Fault
from local.events import api_rest_event, eventbridge_event
from tests.conftest import Invoke


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Everything the function writes: its log lines and its EMF metrics, as JSON objects."""
    from cashout_cancel.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    logs = io.StringIO()
    previous = handler.setStream(logs)
    try:
        yield lambda: json_lines(logs.getvalue() + capsys.readouterr().out)
    finally:
        handler.setStream(previous)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def result_line(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [line] = [line for line in lines if line.get("message") == "cancel finished"]
    return line


def emf_metrics(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [emf] = [line for line in lines if "_aws" in line]
    names = [m["Name"] for d in emf["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    return {name: emf[name] for name in names}


def test_api_result_line_carries_request_id_cashout_id_and_outcome(
    invoke: Invoke, output: Any
) -> None:
    invoke(api_rest_event(1001, {"external_id": "ext-1001"}, request_id="api-req-1"))
    line = result_line(output())
    assert line["correlation_id"] == "api-req-1"
    assert line["cashout_id"] == 1001
    assert line["outcome"] == "CANCELLED"
    assert line["level"] == "INFO"
    assert line["service"] == "cashout-cancel"


def test_eventbridge_correlation_id_is_the_event_id(invoke: Invoke, output: Any) -> None:
    invoke(eventbridge_event({"cashout_id": 1001, "external_id": "ext-1001"}, event_id="ev-77"))
    assert result_line(output())["correlation_id"] == "ev-77"


def test_direct_correlation_id_is_the_lambda_request_id(
    function_env: D24Sandbox, output: Any
) -> None:
    from cashout_cancel.handler import lambda_handler
    from tests.conftest import LambdaContext

    lambda_handler(
        {"cashout_id": 1001, "external_id": "ext-1001"}, LambdaContext(aws_request_id="lr-5")
    )
    assert result_line(output())["correlation_id"] == "lr-5"


def test_metrics_count_the_outcome_and_record_upstream_latency(invoke: Invoke, output: Any) -> None:
    invoke({"cashout_id": 2001, "external_id": "ext-2001"})
    metrics = emf_metrics(output())
    assert metrics["NOT_CANCELLABLE"] in (1, 1.0, [1.0])
    latencies = metrics["UpstreamLatency"]
    latencies = latencies if isinstance(latencies, list) else [latencies]
    assert len(latencies) == 2  # the cancel and the status look-up
    assert all(value > 0 for value in latencies)


def test_invalid_request_is_counted_without_upstream_latency(invoke: Invoke, output: Any) -> None:
    invoke({"cashout_id": "x", "external_id": "e"})
    metrics = emf_metrics(output())
    assert set(metrics) == {"INVALID_REQUEST", "Results"}


def test_failures_are_logged_at_error_with_upstream_facts(
    invoke: Invoke, d24: D24Sandbox, output: Any
) -> None:
    d24.inject(Fault.status(503), times=3)
    invoke({"cashout_id": 1001, "external_id": "ext-1001"})
    line = result_line(output())
    assert line["level"] == "ERROR"
    assert line["outcome"] == "UPSTREAM_UNAVAILABLE"
    assert line["upstream"]["http_status"] == 503


def test_internal_error_logs_the_traceback_with_correlation_id(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, output: Any
) -> None:
    from cashout_cancel.cancel.service import CancelService

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(CancelService, "cancel", broken)
    invoke(api_rest_event(1001, {"external_id": "ext-1001"}, request_id="api-req-bug"))
    lines = output()
    [error] = [line for line in lines if line.get("message") == "unexpected error while cancelling"]
    assert error["correlation_id"] == "api-req-bug"
    assert "RuntimeError: a bug" in error["exception"]
