"""`make dashboard` reads EMF as CloudWatch does and draws the template's widgets from it: a
document under the {service, caller} dimension set feeds the caller's panel, statistics match
CloudWatch's, and the picture is written with empty panels saying why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cashout_cancel.cancel.outcomes import Outcome
from cashout_cancel.observability import CALLER_DIMENSION, RESULTS_METRIC
from local.dashboard import emf, render
from local.dashboard.widgets import Widget, template_widgets

NAMESPACE = "CashoutCancelLocal"
START_MS = 1_767_268_800_000


def _document(minute: int, values: dict[str, Any], caller: str = "sqs") -> dict[str, Any]:
    """An EMF document as the function prints it: both dimension sets, one directive."""
    return {
        "_aws": {
            "Timestamp": START_MS + minute * 60_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["service"], ["service", CALLER_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in values],
                }
            ],
        },
        "service": "cashout-cancel",
        CALLER_DIMENSION: caller,
        **values,
    }


def _widget(title: str) -> Widget:
    (found,) = [w for w in template_widgets(NAMESPACE) if w.title == title]
    return found


def test_a_document_counts_under_each_of_its_dimension_sets() -> None:
    document = _document(0, {Outcome.CANCELLED.value: 1, RESULTS_METRIC: [1, 1]})

    points = list(emf.datapoints(document))

    assert len(points) == 2 * 3  # two dimension sets x (one CANCELLED + two Results values)
    assert {p.dimensions for p in points} == {
        (("service", "cashout-cancel"),),
        ((CALLER_DIMENSION, "sqs"), ("service", "cashout-cancel")),
    }


def test_statistics_are_cloudwatchs() -> None:
    values = [float(v) for v in range(1, 101)]

    assert emf.statistic(values, "Sum") == 5050
    assert emf.statistic(values, "Average") == 50.5
    assert emf.statistic(values, "p50") == 50
    assert emf.statistic(values, "p99") == 99
    assert emf.statistic(values, "Maximum") == 100
    assert emf.statistic(values, "SampleCount") == 100


def test_the_callers_outcome_panel_sums_that_callers_results_per_minute() -> None:
    # Given two cancels and one refusal from SQS in minute 0, and one cancel from the API
    documents = [
        _document(0, {Outcome.CANCELLED.value: 1}),
        _document(0, {Outcome.CANCELLED.value: 1}),
        _document(0, {Outcome.INVALID_REQUEST.value: 1}),
        _document(0, {Outcome.CANCELLED.value: 1}, caller="api_gateway"),
    ]
    points = [p for d in documents for p in emf.datapoints(d)]
    widget = _widget("Outcomes: sqs")

    # When the panel's lines are computed
    lines = {s.metric: emf.series_values(points, s, widget.period) for s in widget.series}

    # Then only the SQS caller's results are in it, per minute
    assert lines[Outcome.CANCELLED.value] == [(START_MS, 2.0)]
    assert lines[Outcome.INVALID_REQUEST.value] == [(START_MS, 1.0)]
    assert lines[Outcome.NOT_FOUND.value] == []


def test_the_picture_is_written(tmp_path: Path) -> None:
    documents = [_document(minute, {RESULTS_METRIC: 1}) for minute in range(3)]
    out = tmp_path / "dashboard.png"

    render.draw(render.Picture(template_widgets(NAMESPACE), documents, "test"), out)

    assert out.read_bytes().startswith(b"\x89PNG")
