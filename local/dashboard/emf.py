"""CloudWatch Embedded Metric Format, read back: log lines into datapoints, datapoints into the
statistic a dashboard line asks for, per period, as CloudWatch would compute them."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from local.dashboard.widgets import Series


@dataclass(frozen=True)
class Datapoint:
    """One value of one metric identity at one time."""

    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name
    timestamp_ms: int
    value: float


def documents(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The EMF documents among log lines: JSON objects with an `_aws` key (others skipped)."""
    found = []
    for line in lines:
        text = line.strip()
        if not text.startswith("{"):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("_aws"), dict):
            found.append(document)
    return found


def datapoints(document: dict[str, Any]) -> Iterator[Datapoint]:
    """Every datapoint of one EMF document: each metric under each of its dimension sets."""
    timestamp = int(document["_aws"]["Timestamp"])
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dimensions = tuple(sorted((name, str(document[name])) for name in dimension_set))
            for definition in directive["Metrics"]:
                raw = document[definition["Name"]]
                for value in raw if isinstance(raw, list) else [raw]:
                    yield Datapoint(
                        directive["Namespace"],
                        definition["Name"],
                        dimensions,
                        timestamp,
                        float(value),
                    )


def statistic(values: Sequence[float], stat: str) -> float:
    """Sum, Average, Minimum, Maximum, SampleCount or pNN of `values` (not empty)."""
    if stat == "Sum":
        return math.fsum(values)
    if stat == "Average":
        return math.fsum(values) / len(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat.startswith("p"):
        # Nearest rank: the smallest value with at least NN% of the values at or below it.
        ordered = sorted(values)
        rank = math.ceil(float(stat[1:]) / 100 * len(ordered))
        return ordered[max(rank, 1) - 1]
    raise ValueError(f"statistic {stat!r} is not drawn locally")


def series_values(
    points: Iterable[Datapoint], series: Series, period_s: int
) -> list[tuple[int, float]]:
    """(period start in ms, statistic) for each period in which `series` has datapoints."""
    buckets: dict[int, list[float]] = defaultdict(list)
    period_ms = period_s * 1000
    for point in points:
        if (point.namespace, point.metric, point.dimensions) == (
            series.namespace,
            series.metric,
            series.dimensions,
        ):
            buckets[point.timestamp_ms // period_ms * period_ms].append(point.value)
    return [(start, statistic(buckets[start], series.stat)) for start in sorted(buckets)]
