"""The dashboard body of template.yaml as widgets and metric series.

The body is a JSON document inside an `Fn::Sub`: its placeholders are resolved with stand-in
names (`placeholders`), then each `metric` widget's entries are read as CloudWatch reads them:
`[namespace, metric, dim1, value1, ..., {options}]`. The tests use the same reading to hold the
dashboard to the metric names the function emits, and render.py to draw it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local.cfn_template import load_template, substitute

DASHBOARD_TYPE = "AWS::CloudWatch::Dashboard"
# Names the placeholders stand for in a local picture; stand_ins.py measures under the same ones.
STACK_NAME = "cashout-cancel"
FUNCTION_NAME = "cashout-cancel"
LOG_GROUP = "/aws/lambda/cashout-cancel-cancel-cashout"
QUEUES = ("FailureQueue", "CancelQueue", "CancelDeadLetterQueue")


@dataclass(frozen=True)
class Series:
    """One line of a widget: a metric identity (namespace, name, dimensions) and a statistic."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name, as CloudWatch matches them
    stat: str
    label: str

    def dimension(self, name: str) -> str | None:
        """The value of dimension `name`, or None when the series has no such dimension."""
        return dict(self.dimensions).get(name)


@dataclass(frozen=True)
class Widget:
    """One dashboard widget: where it sits on the 24-column grid and what it shows."""

    kind: str  # "metric", "text" or "log" (a Logs Insights query)
    title: str
    x: int
    y: int
    width: int
    height: int
    series: tuple[Series, ...] = ()
    stacked: bool = False
    period: int = 300
    horizontal_annotations: tuple[tuple[str, float], ...] = ()
    markdown: str = ""
    query: str = ""  # a log widget's Logs Insights query


def placeholders(namespace: str) -> dict[str, str]:
    """Values for the body's `${...}` placeholders: the metrics namespace and stand-in names."""
    values = {
        "AWS::Region": "local",
        "AWS::StackName": STACK_NAME,
        "MetricsNamespace": namespace,
        "CancelCashoutFunction": FUNCTION_NAME,
        "CancelCashoutFunctionLogGroup": LOG_GROUP,
    }
    values.update({f"{queue}.QueueName": queue for queue in QUEUES})
    return values


def dashboard_body(namespace: str, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The template's (single) dashboard body, its placeholders resolved, as parsed JSON."""
    resources = (template or load_template())["Resources"]
    (dashboard,) = [r for r in resources.values() if r["Type"] == DASHBOARD_TYPE]
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    body: dict[str, Any] = json.loads(substitute(text, placeholders(namespace)))
    return body


def read_widgets(body: dict[str, Any]) -> list[Widget]:
    """Every widget of a dashboard body, in the body's order."""
    return [_widget(raw) for raw in body["widgets"]]


def template_widgets(namespace: str, template: dict[str, Any] | None = None) -> list[Widget]:
    """The template's dashboard as widgets, its metrics in `namespace`."""
    return read_widgets(dashboard_body(namespace, template))


def _widget(raw: dict[str, Any]) -> Widget:
    properties = raw.get("properties", {})
    place = (int(raw["x"]), int(raw["y"]), int(raw["width"]), int(raw["height"]))
    if raw["type"] == "text":
        return Widget("text", "", *place, markdown=str(properties.get("markdown", "")))
    if raw["type"] == "log":
        title = str(properties.get("title", ""))
        return Widget("log", title, *place, query=str(properties["query"]))
    stat = str(properties.get("stat", "Average"))  # CloudWatch's default statistic
    annotations = properties.get("annotations", {}).get("horizontal", [])
    return Widget(
        "metric",
        str(properties.get("title", "")),
        *place,
        series=tuple(_series(entry, stat) for entry in properties["metrics"]),
        stacked=bool(properties.get("stacked", False)),
        period=int(properties.get("period", 300)),
        horizontal_annotations=tuple(
            (str(a.get("label", "")), float(a["value"])) for a in annotations
        ),
    )


def _series(entry: list[Any], default_stat: str) -> Series:
    """One metrics entry: [namespace, name, dim, value, ..., {options}]."""
    options: dict[str, Any] = entry[-1] if entry and isinstance(entry[-1], dict) else {}
    fields = entry[:-1] if options else entry
    if len(fields) < 2 or len(fields) % 2:
        raise ValueError(f"not a metric entry (math expressions are not drawn locally): {entry}")
    if any(field in (".", "...") for field in fields):
        # The shorthand repeats the previous entry; written out, every line reads alone.
        raise ValueError(f"write metric entries out in full, without '.' or '...': {entry}")
    namespace, metric, *pairs = (str(field) for field in fields)
    dimensions = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
    return Series(
        namespace=namespace,
        metric=metric,
        dimensions=dimensions,
        stat=str(options.get("stat", default_stat)),
        label=str(options.get("label", metric)),
    )
