"""The dashboard shows what the function emits: every metric in its namespace is one the code
names (cashout_cancel.observability), every caller one it knows, every queue of the stack is
there, and the duration graph draws the function's own timeout. Renaming a metric in the code
without the dashboard fails here instead of blanking a graph."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from cashout_cancel.observability import CALLER_DIMENSION, CALLERS, METRIC_NAMES
from tests.conftest import LambdaContext
from tests.integration.test_observability import output
from tests.template.dashboard_widgets import (
    FUNCTION_NAME,
    LOG_GROUP,
    STACK_NAME,
    Series,
    Widget,
    template_widgets,
)

__all__ = ["output"]  # the fixture that captures the function's log lines

NAMESPACE = "CashoutCancelTemplateTest"  # any value: the body takes it from a parameter


@pytest.fixture(scope="module")
def widgets(template: dict[str, Any]) -> list[Widget]:
    return template_widgets(NAMESPACE, template)


@pytest.fixture(scope="module")
def series(widgets: list[Widget]) -> list[Series]:
    return [line for widget in widgets for line in widget.series]


def _own(series: list[Series]) -> list[Series]:
    return [line for line in series if line.namespace == NAMESPACE]


def _widget_of(widgets: list[Widget], namespace: str, metric: str) -> Widget:
    (found,) = [
        w for w in widgets if any(s.namespace == namespace and s.metric == metric for s in w.series)
    ]
    return found


def test_every_metric_in_the_functions_namespace_is_one_it_emits(series: list[Series]) -> None:
    unknown = {line.metric for line in _own(series)} - set(METRIC_NAMES)

    assert _own(series)
    assert not unknown, f"the dashboard graphs metrics the function never emits: {unknown}"


def test_every_metric_uses_one_of_the_two_dimension_sets_with_known_values(
    series: list[Series], function: dict[str, Any]
) -> None:
    service = function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]

    for line in _own(series):
        names = {name for name, _ in line.dimensions}
        assert names in ({"service"}, {"service", CALLER_DIMENSION}), line
        assert line.dimension("service") == service
        caller = line.dimension(CALLER_DIMENSION)
        assert caller is None or caller in CALLERS, line


def test_every_metric_and_every_caller_has_a_graph(series: list[Series]) -> None:
    shown = {line.metric for line in _own(series)}
    callers = {line.dimension(CALLER_DIMENSION) for line in _own(series)} - {None}

    assert set(METRIC_NAMES) <= shown
    assert set(CALLERS) <= callers


def test_duration_graph_draws_the_timeout_and_the_alarm_threshold(
    widgets: list[Widget], function: dict[str, Any], resources: dict[str, Any]
) -> None:
    widget = _widget_of(widgets, "AWS/Lambda", "Duration")
    lines = set(widget.horizontal_annotations)

    assert function["Timeout"] * 1000 in lines
    assert resources["DurationNearTimeoutAlarm"]["Properties"]["Threshold"] in lines


def test_every_queue_of_the_stack_shows_its_depth_and_age(
    widgets: list[Widget], resources: dict[str, Any]
) -> None:
    queues = {name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}

    for metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        widget = _widget_of(widgets, "AWS/SQS", metric)
        # Placeholders ${Queue.QueueName} resolve to the queue's logical id (dashboard_widgets.py).
        assert {line.dimension("QueueName") for line in widget.series} == queues


def test_aws_metrics_name_this_stacks_function_and_api(
    series: list[Series], resources: dict[str, Any]
) -> None:
    stage = resources["CancelCashoutApi"]["Properties"]["StageName"]

    for line in series:
        if line.namespace == "AWS/Lambda":
            assert line.dimensions == (("FunctionName", FUNCTION_NAME),)
        if line.namespace == "AWS/ApiGateway":
            assert dict(line.dimensions) == {"ApiName": STACK_NAME, "Stage": stage}
    assert resources["CancelCashoutApi"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}


def test_widgets_fit_the_24_column_grid_without_overlapping(widgets: list[Widget]) -> None:
    taken: set[tuple[int, int]] = set()
    for widget in widgets:
        assert widget.x >= 0
        assert widget.x + widget.width <= 24
        cells = {
            (x, y)
            for x in range(widget.x, widget.x + widget.width)
            for y in range(widget.y, widget.y + widget.height)
        }
        assert not cells & taken, widget.title
        taken |= cells


# Outcomes by merchant account: read from the result line, never a metric dimension (section 11)


def _log_widget(widgets: list[Widget]) -> Widget:
    (found,) = [w for w in widgets if w.query]
    return found


def test_outcomes_by_merchant_are_a_logs_insights_query_of_the_functions_own_log_group(
    widgets: list[Widget], resources: dict[str, Any]
) -> None:
    query = _log_widget(widgets).query

    log_group = resources["CancelCashoutFunctionLogGroup"]["Properties"]["LogGroupName"]
    assert log_group == {"Fn::Sub": "/aws/lambda/${AWS::StackName}-cancel-cashout"}
    assert query.startswith(f"SOURCE '{LOG_GROUP}' |")
    assert re.search(r"\bby merchant, outcome\b", query)


def test_the_merchant_query_reads_the_fields_the_result_line_writes(
    widgets: list[Widget], function_env: Any, monkeypatch: pytest.MonkeyPatch, output: Any
) -> None:
    # Given a result line the function wrote for a named account
    from cashout_cancel.handler import lambda_handler
    from tests.integration.merchants import PREFIX, Merchants

    monkeypatch.setenv("D24_MERCHANT_SECRET_PREFIX", PREFIX)
    Merchants(function_env, boto3.client("secretsmanager", region_name="us-east-1")).add("acme-mx")
    request = {"cashout_id": 3001, "external_id": "acme-mx-3001", "merchant": "acme-mx"}
    lambda_handler(request, LambdaContext())
    (line,) = [line for line in output() if "outcome" in line]

    # Then every field the query reads is on it, with the values the query filters for
    query = _log_widget(widgets).query
    message = re.search(r"filter message = '([^']+)'", query)
    assert message is not None
    assert line["message"] == message.group(1)
    present = re.findall(r"ispresent\((\w+)\)", query)
    grouped = re.search(r"\bby ([\w, ]+?) \|", query)
    assert grouped is not None
    fields = {*present, *(name.strip() for name in grouped.group(1).split(","))}
    assert fields == {"merchant", "outcome"}
    assert {name: line[name] for name in fields} == {"merchant": "acme-mx", "outcome": "CANCELLED"}
