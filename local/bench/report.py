"""The figures from pyperf Benchmarks, the targets, the check of the handler's output, the table."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyperf

TARGETS = {  # figure: (text, limit, at most)
    "warm_p50": ("warm p50 <= 1.15x the floor's", 1.15, True),
    "warm_p99": ("warm p99 <= 1.30x the floor's", 1.30, True),
    "naive_speedup": ("warm p50 >= 8x faster than the naive handler's", 8.0, False),
    "cold": ("cold start, tracing disabled, <= 1.10x the cold floor (p50)", 1.10, True),
    "peak_rss_mb": ("peak RSS after 1,000 warm invocations <= 64 MB", 64.0, True),
    "bulk_throughput": ("bulk throughput >= 0.93x the floor's", 0.93, False),
    "bulk_cpu": ("bulk CPU per message <= 1.20x a direct invoke's", 1.20, True),
    "bulk_peak_rss_mb": ("bulk peak RSS after 10,000 messages <= 80 MB", 80.0, True),
}


def benchmark(name: str, runs: Sequence[Sequence[float]], loads: Sequence[float]) -> Any:
    """A pyperf Benchmark of seconds: a run per process, each with the load average it met."""
    meta = {"name": name, "unit": "second"}
    runs_ = [
        pyperf.Run(values, metadata=meta | {"load_avg_1min": load}, collect_metadata=False)
        for values, load in zip(runs, loads, strict=True)
    ]
    return pyperf.Benchmark(runs_)


def rows(benches: Mapping[str, Any], scale: float) -> dict[str, dict[str, Any]]:
    """Per benchmark p50, p99 and n (seconds times `scale`), and both against the first one's."""
    found = {
        label: {
            "p50": b.median() * scale,
            "p99": b.percentile(99) * scale,
            "n": len(b.get_values()),
        }
        for label, b in benches.items()
    }
    floor = next(iter(found.values()))
    for row in found.values():
        row |= {"p50/floor": row["p50"] / floor["p50"], "p99/floor": row["p99"] / floor["p99"]}
    return found


def loads(benches: Sequence[Any]) -> list[float]:
    """The lowest and highest 1-minute load average that the benchmarks' runs started at."""
    seen = [run.get_metadata()["load_avg_1min"] for bench in benches for run in bench.get_runs()]
    return [round(min(seen), 2), round(max(seen), 2)]


def spread(ratios: Sequence[float], load: Sequence[float]) -> dict[str, Any]:
    """A ratio round by round (each round's variants ran back to back): how much of it is noise."""
    quartiles = statistics.quantiles([*ratios] * (3 - min(len(ratios), 2)), n=4, method="inclusive")
    found = dict(zip(("q1", "median", "q3"), quartiles, strict=True))
    found |= {"min": min(ratios), "max": max(ratios)}
    return {key: round(value, 3) for key, value in found.items()} | {"load": list(load)}


def check_output(out: str, invocations: int, *, traced: bool = False, caller: str = "api_gateway") -> bool:
    """`out`.out holds a result line per invocation (correlation id, cashout_id, outcome, and the
    trace id when traced) and an EMF blob for each (the outcome metric and UpstreamLatency; for
    SQS, ResultsPublished counting it); `out`.err is empty."""
    results = counted = 0
    for line in Path(f"{out}.out").read_text().splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("message") == "cancel finished" and record.get("caller") == caller:
            keys = ["correlation_id", "cashout_id", "outcome", *(["xray_trace_id"] * traced)]
            results += all(record.get(key) for key in keys)
        elif "_aws" in record and caller == "sqs":
            counted += int(sum(record.get("ResultsPublished") or []))
        elif "_aws" in record:
            names = {metric["Name"] for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
            counted += {"CANCELLED", "UpstreamLatency"} <= names
    return results == counted == invocations and not Path(f"{out}.err").read_text()


def targets(figures: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Each target this run measured: its figure, limit, verdict and text."""
    found = {}
    for name, (text, limit, at_most) in TARGETS.items():
        if not math.isnan(value := figures.get(name, math.nan)):
            verdict = value <= limit if at_most else value >= limit
            found[name] = {"value": value, "limit": limit, "pass": verdict, "text": text}
    return found


def _cell(value: Any) -> str:
    if not isinstance(value, float):
        return str(value)
    return (
        f"{value:.2f}"
        if abs(value) < 10
        else f"{value:.1f}"
        if abs(value) < 1e3
        else f"{value:.0f}"
    )


def table(result: Mapping[str, Any]) -> str:
    """The report a person reads: each section's rows, the figures with their spread, targets."""
    facts, load = result["machine"], result["load_average"]
    lines = [
        f"cashout-cancel benchmark ({result['git']}), {result['date']}, {result['elapsed_s']} s:"
    ]
    lines += [f"  {facts}, load average {load[0]} -> {load[1]}"]
    for title, section in result["sections"].items():
        columns = list(next(iter(section.values())))
        lines += ["", f"{title:44}" + "".join(f"{column:>11}" for column in columns)]
        for label, row in section.items():
            lines.append(f"  {label:42}" + "".join(f"{_cell(row[key]):>11}" for key in columns))
    lines += ["", "Figures (round by round: median and quartiles of the ratio, and the load)"]
    for name, value in result["figures"].items():
        lines.append(f"  {name:28} {_cell(value):>9}")
        if found := result["per_round"].get(name):
            lines[-1] += f"   {found['median']:.3f} ({found['q1']:.3f}-{found['q3']:.3f})"
            lines[-1] += f", load {found['load'][0]}-{found['load'][1]}"
    lines += ["", "Targets"]
    for target in result["targets"].values():
        verdict = "PASS" if target["pass"] else "MISS"
        lines.append(f"  {verdict}  {target['text']:62} {target['value']:.2f}")
    failed = [name for name, ok in result["checks"].items() if not ok]
    lines.append(
        f"  Output checks (result line and EMF per invocation, no stderr): {failed or 'all passed'}"
    )
    return "\n".join(lines)
