"""The alarms fire when callers suffer, watch metrics the function really emits, point to a
runbook section that exists, and (those that measure callers' pain) roll back a bad deploy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cashout_cancel.cancel.outcomes import Outcome
from cashout_cancel.observability import METRIC_NAMES, RESULTS_METRIC
from tests.template.helpers import FUNCTION, alarm_metrics, alarms, if_condition

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbook.md"
RUNBOOK_LINK = re.compile(r"docs/runbook\.md#([a-z0-9-]+)")
NAMESPACE = {"Ref": "MetricsNamespace"}
DURATION_ALARM_SHARE_OF_TIMEOUT = 0.8

# name: (namespace, metric, dimensions, comparison, threshold) for the single-metric alarms.
SINGLE_METRIC_ALARMS = {
    "FunctionErrorsAlarm": (
        "AWS/Lambda",
        "Errors",
        ["FunctionName"],
        "GreaterThanThreshold",
        0,
    ),
    "FunctionThrottlesAlarm": (
        "AWS/Lambda",
        "Throttles",
        ["FunctionName"],
        "GreaterThanThreshold",
        0,
    ),
    "DurationNearTimeoutAlarm": (
        "AWS/Lambda",
        "Duration",
        ["FunctionName"],
        "GreaterThanThreshold",
        16000,
    ),
    "ApiServerErrorsAlarm": (
        "AWS/ApiGateway",
        "5XXError",
        ["ApiName", "Stage"],
        "GreaterThanThreshold",
        0.05,
    ),
    "FailureQueueMessagesAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ["QueueName"],
        "GreaterThanThreshold",
        0,
    ),
    "CancelDeadLetterQueueMessagesAlarm": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ["QueueName"],
        "GreaterThanThreshold",
        0,
    ),
    "CancelQueueAgeAlarm": (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        ["QueueName"],
        "GreaterThanThreshold",
        {"Ref": "CancelQueueMaxAgeSeconds"},
    ),
    "UpstreamAuthFailedAlarm": (
        NAMESPACE,
        Outcome.UPSTREAM_AUTH_FAILED.value,
        ["service"],
        "GreaterThanOrEqualToThreshold",
        1,
    ),
}
MATH_ALARMS = {"UpstreamUnavailableShareAlarm", "FunctionFaultsAlarm"}


def _anchors() -> set[str]:
    """The runbook's stable anchors: explicit `<a id="...">` tags."""
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', RUNBOOK.read_text(encoding="utf-8")))


def _statistics(metric_math: list[dict[str, Any]]) -> dict[str, str]:
    """Each MetricStat query of an alarm's math: its id -> metric name."""
    stats = [query for query in metric_math if "MetricStat" in query]
    return {query["Id"]: query["MetricStat"]["Metric"]["MetricName"] for query in stats}


def test_the_template_has_exactly_the_alarms_these_tests_know(resources: dict[str, Any]) -> None:
    assert set(alarms(resources)) == set(SINGLE_METRIC_ALARMS) | MATH_ALARMS


@pytest.mark.parametrize("name", SINGLE_METRIC_ALARMS)
def test_alarm_watches_its_metric(resources: dict[str, Any], name: str) -> None:
    namespace, metric, dimensions, comparison, threshold = SINGLE_METRIC_ALARMS[name]
    properties = resources[name]["Properties"]

    assert properties["Namespace"] == namespace
    assert properties["MetricName"] == metric
    assert [d["Name"] for d in properties["Dimensions"]] == dimensions
    assert properties["ComparisonOperator"] == comparison
    assert properties["Threshold"] == threshold


@pytest.mark.parametrize("name", sorted(SINGLE_METRIC_ALARMS.keys() | MATH_ALARMS))
def test_alarm_notifies_the_topic_when_given_and_calms_down_without_data(
    resources: dict[str, Any], name: str
) -> None:
    properties = resources[name]["Properties"]

    assert if_condition(properties["AlarmActions"]) == "HasAlarmTopic"
    assert if_condition(properties["OKActions"]) == "HasAlarmTopic"
    assert properties["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("name", sorted(SINGLE_METRIC_ALARMS.keys() | MATH_ALARMS))
def test_alarm_says_what_to_do_and_links_a_runbook_section_that_exists(
    resources: dict[str, Any], name: str
) -> None:
    description = resources[name]["Properties"]["AlarmDescription"]

    links = RUNBOOK_LINK.findall(description)
    assert len(links) == 1, f"{name} must name one runbook section"
    assert links[0] in _anchors(), f"docs/runbook.md has no anchor {links[0]!r}"


def test_alarms_on_the_functions_metrics_use_names_it_emits_under_its_service(
    resources: dict[str, Any], function: dict[str, Any]
) -> None:
    service = function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    custom = [
        metric
        for alarm in alarms(resources).values()
        for metric in alarm_metrics(alarm)
        if metric["Namespace"] == NAMESPACE
    ]

    assert custom, "no alarm watches the function's own metrics"
    for metric in custom:
        assert metric["MetricName"] in METRIC_NAMES
        # The `{service}` dimension set: every caller's results together.
        assert metric["Dimensions"] == [{"Name": "service", "Value": service}]


def test_upstream_unavailable_share_is_unavailable_plus_timeout_over_results(
    resources: dict[str, Any],
) -> None:
    properties = resources["UpstreamUnavailableShareAlarm"]["Properties"]
    statistics = _statistics(properties["Metrics"])
    (expression,) = [q for q in properties["Metrics"] if "Expression" in q]

    assert sorted(statistics.values()) == sorted(
        [Outcome.UPSTREAM_UNAVAILABLE.value, Outcome.UPSTREAM_TIMEOUT.value, RESULTS_METRIC]
    )
    assert expression["ReturnData"] is True
    numerator, denominator = expression["Expression"].rsplit("/", 1)
    assert statistics[denominator.strip()] == RESULTS_METRIC
    for query_id, metric in statistics.items():
        if metric != RESULTS_METRIC:
            assert query_id in numerator
    assert 0 < properties["Threshold"] < 1


def test_function_faults_alarm_counts_internal_and_configuration_errors(
    resources: dict[str, Any],
) -> None:
    properties = resources["FunctionFaultsAlarm"]["Properties"]

    assert set(_statistics(properties["Metrics"]).values()) == {
        Outcome.INTERNAL_ERROR.value,
        Outcome.CONFIGURATION_ERROR.value,
    }
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_duration_alarm_fires_at_80_percent_of_the_timeout(
    resources: dict[str, Any], function: dict[str, Any]
) -> None:
    properties = resources["DurationNearTimeoutAlarm"]["Properties"]

    assert properties["ExtendedStatistic"] == "p99"
    assert properties["Threshold"] == pytest.approx(
        DURATION_ALARM_SHARE_OF_TIMEOUT * function["Timeout"] * 1000
    )


def test_api_alarm_watches_the_deployed_api_and_stage(resources: dict[str, Any]) -> None:
    dimensions = {
        d["Name"]: d["Value"] for d in resources["ApiServerErrorsAlarm"]["Properties"]["Dimensions"]
    }
    api = resources["CancelCashoutApi"]["Properties"]

    assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}


@pytest.mark.parametrize(
    ("alarm", "queue"),
    [
        ("FailureQueueMessagesAlarm", "FailureQueue"),
        ("CancelDeadLetterQueueMessagesAlarm", "CancelDeadLetterQueue"),
        ("CancelQueueAgeAlarm", "CancelQueue"),
    ],
)
def test_every_queue_that_holds_failures_or_backlog_is_watched(
    resources: dict[str, Any], alarm: str, queue: str
) -> None:
    (dimension,) = resources[alarm]["Properties"]["Dimensions"]

    assert dimension == {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}


def test_function_alarms_watch_this_function(resources: dict[str, Any]) -> None:
    for name, alarm in alarms(resources).items():
        for metric in alarm_metrics(alarm):
            if metric["Namespace"] == "AWS/Lambda":
                assert metric["Dimensions"] == [
                    {"Name": "FunctionName", "Value": {"Ref": FUNCTION}}
                ], name
