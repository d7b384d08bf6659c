"""The dashboard body of template.yaml as widgets and metric series, for the dashboard tests.

The body is a JSON document inside an `Fn::Sub`: its placeholders are resolved with stand-in
names, as CloudFormation would write it out, then each `metric` widget's entries are read as
CloudWatch reads them: `[namespace, metric, dim1, value1, ..., {options}]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DASHBOARD_TYPE = "AWS::CloudWatch::Dashboard"
# Names the placeholders stand for.
STACK_NAME = "cashout-cancel"
FUNCTION_NAME = "cashout-cancel"
LOG_GROUP = "/aws/lambda/cashout-cancel-cancel-cashout"
QUEUES = ("FailureQueue", "CancelQueue", "CancelDeadLetterQueue")
# ${Name}, ${Resource.Attribute}, ${AWS::Region}; ${!Literal} is CloudFormation's escape.
_PLACEHOLDER = re.compile(r"\$\{(!?)([A-Za-z0-9_:.]+)\}")


@dataclass(frozen=True)
class Series:
    """One line of a widget: a metric identity (namespace, name, dimensions) and a statistic."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name, as CloudWatch matches them
    stat: str

    def dimension(self, name: str) -> str | None:
        """The value of dimension `name`, or None when the series has no such dimension."""
        return dict(self.dimensions).get(name)


@dataclass(frozen=True)
class Widget:
    """One dashboard widget: where it sits on the 24-column grid and what it shows."""

    title: str
    x: int
    y: int
    width: int
    height: int
    series: tuple[Series, ...] = ()
    horizontal_annotations: tuple[float, ...] = ()
    query: str = ""  # a Logs Insights widget's query


def substitute(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `${Name}` replaced by `values[Name]`, as `Fn::Sub` would; a placeholder
    without a value raises KeyError naming it (a new reference needs a stand-in chosen here)."""

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if name not in values:
            raise KeyError(f"no value for ${{{name}}} in the template's Fn::Sub")
        return values[name]

    return _PLACEHOLDER.sub(replace, text)


def template_widgets(namespace: str, template: dict[str, Any]) -> list[Widget]:
    """The template's (single) dashboard as widgets, its metrics in `namespace`."""
    values = {
        "AWS::Region": "local",
        "AWS::StackName": STACK_NAME,
        "MetricsNamespace": namespace,
        "CancelCashoutFunction": FUNCTION_NAME,
        "CancelCashoutFunctionLogGroup": LOG_GROUP,
        **{f"{queue}.QueueName": queue for queue in QUEUES},
    }
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == DASHBOARD_TYPE]
    body = json.loads(substitute(dashboard["Properties"]["DashboardBody"]["Fn::Sub"], values))
    return [_widget(raw) for raw in body["widgets"]]


def _widget(raw: dict[str, Any]) -> Widget:
    properties = raw.get("properties", {})
    place = (int(raw["x"]), int(raw["y"]), int(raw["width"]), int(raw["height"]))
    if raw["type"] == "text":
        return Widget("", *place)
    if raw["type"] == "log":
        return Widget(str(properties.get("title", "")), *place, query=str(properties["query"]))
    stat = str(properties.get("stat", "Average"))  # CloudWatch's default statistic
    annotations = properties.get("annotations", {}).get("horizontal", [])
    return Widget(
        str(properties.get("title", "")),
        *place,
        series=tuple(_series(entry, stat) for entry in properties["metrics"]),
        horizontal_annotations=tuple(float(a["value"]) for a in annotations),
    )


def _series(entry: list[Any], default_stat: str) -> Series:
    """One metrics entry: [namespace, name, dim, value, ..., {options}]."""
    options: dict[str, Any] = entry[-1] if entry and isinstance(entry[-1], dict) else {}
    fields = entry[:-1] if options else entry
    if len(fields) < 2 or len(fields) % 2:
        raise ValueError(f"not a metric entry (math expressions are not read here): {entry}")
    if any(field in (".", "...") for field in fields):
        # The shorthand repeats the previous entry; written out, every line reads alone.
        raise ValueError(f"write metric entries out in full, without '.' or '...': {entry}")
    namespace, metric, *pairs = (str(field) for field in fields)
    dimensions = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
    return Series(namespace, metric, dimensions, str(options.get("stat", default_stat)))
