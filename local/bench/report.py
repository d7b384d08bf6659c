"""Figures from pyperf Benchmarks, the targets, the check of the handler's output, the table."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyperf

TARGETS = {  # figure: (text, limit, at most)
    "warm_p50": ("warm p50 <= 1.15x the floor's", 1.15, True),
    "warm_p99": ("warm p99 <= 1.30x the floor's", 1.30, True),
    "naive_speedup": ("warm p50 >= 8x faster than the naive handler's", 8.0, False),
    "cold": ("cold start, secret through the SDK, <= 1.10x the cold floor (p50)", 1.10, True),
    "cold_extension": ("cold start through the secrets extension <= 0.55x the floor", 0.55, True),
    "cold_extension_traced": ("the same, tracing enabled, <= 0.65x the floor", 0.65, True),
    "peak_rss_mb": ("peak RSS after 1,000 warm invocations <= 64 MB", 64.0, True),
    "bulk_throughput": ("bulk throughput >= 0.93x the floor's", 0.93, False),
    "bulk_cpu": ("bulk CPU per message <= 1.20x a direct invoke's", 1.20, True),
    "bulk_peak_rss_mb": ("bulk peak RSS after 10,000 messages <= 80 MB", 80.0, True),
}


def benchmark(name: str, runs: Sequence[Sequence[float]], loads: Sequence[float]) -> Any:
    """A pyperf Benchmark of seconds: a run per process, with the load average it started at."""
    meta = [{"name": name, "unit": "second", "load_avg_1min": load} for load in loads]
    made = zip(runs, meta, strict=True)
    return pyperf.Benchmark([pyperf.Run(v, metadata=m, collect_metadata=False) for v, m in made])


def merged(name: str, benches: Iterable[Any]) -> Any:
    """The runs (worker processes) of several Benchmarks as one Benchmark called `name`."""
    runs = [run for bench in benches for run in bench.get_runs()]
    return benchmark(
        name, [r.values for r in runs], [r.get_metadata()["load_avg_1min"] for r in runs]
    )


def rows(benches: Mapping[str, Any], x: float) -> dict[str, dict[str, Any]]:
    """Per Benchmark p50, p99 and n (seconds times `x`), and both against the first one's."""
    found = {k: {"p50": b.median() * x, "p99": b.percentile(99) * x} for k, b in benches.items()}
    floor = next(iter(found.values()))
    for row, bench in zip(found.values(), benches.values(), strict=True):
        row |= {"n": len(bench.get_values()), "p50/floor": row["p50"] / floor["p50"]}
        row["p99/floor"] = row["p99"] / floor["p99"]
    return found


def spread(ratios: Sequence[float], benches: Iterable[Any]) -> dict[str, Any]:
    """A ratio's spread round by round (each round's variants run back to back), and the load."""
    samples = [*ratios] * (1 + (len(ratios) < 2))  # quantiles needs two
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    loads = [run.get_metadata()["load_avg_1min"] for bench in benches for run in bench.get_runs()]
    found = {"median": median, "q1": q1, "q3": q3, "min": min(ratios), "max": max(ratios)}
    found = {key: round(value, 3) for key, value in found.items()}
    return found | {"load": [round(min(loads), 2), round(max(loads), 2)]}


def check_output(out: str, count: int, traced: bool = False, caller: str = "api_gateway") -> bool:
    """`out`.out has `count` result lines (correlation id, cashout_id, outcome, trace id when
    traced), an EMF blob for each (or ResultsPublished counting them); `out`.err is empty."""
    results = counted = 0
    for line in Path(f"{out}.out").read_text().splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        keys = ["correlation_id", "cashout_id", "outcome", *(["xray_trace_id"] * traced)]
        if record.get("message") == "cancel finished" and record.get("caller") == caller:
            results += all(record.get(key) for key in keys)
        elif "_aws" in record and caller == "sqs":
            counted += int(sum(record.get("ResultsPublished") or []))
        elif "_aws" in record:
            metrics = record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            counted += {"CANCELLED", "UpstreamLatency"} <= {metric["Name"] for metric in metrics}
    return results == counted == count and not Path(f"{out}.err").read_text()


def targets(figures: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Each target this run measured: its figure, limit, verdict and text."""
    found = {}
    for name, (text, limit, at_most) in TARGETS.items():
        if name in figures:
            verdict = figures[name] <= limit if at_most else figures[name] >= limit
            found[name] = {"value": figures[name], "limit": limit, "pass": verdict, "text": text}
    return found


def table(result: Mapping[str, Any]) -> str:
    """The report a person reads: each section's rows, the figures with their spread, targets."""
    lines = [f"cashout-cancel benchmark ({result['git']}), {result['date']}:"]
    lines.append(f"  {result['machine']}, load {result['load_average']}, {result['elapsed_s']} s")
    for title, section in result["sections"].items():
        columns = list(next(iter(section.values())))
        lines += ["", f"{title:46}" + "".join(f"{column:>10}" for column in columns)]
        for label, row in section.items():
            cells = (f"{row[key]:>10.{max(3, len(str(int(row[key]))))}g}" for key in columns)
            lines.append(f"  {label:44}" + "".join(cells))
    lines += ["", "Figures; round by round: the ratio's median (quartiles), load average"]
    for name, value in result["figures"].items():
        lines.append(f"  {name:28} {value:>9.{max(3, len(str(int(value))))}g}")
        if found := result["per_round"].get(name):
            quartiles = f"({found['q1']:.3f}-{found['q3']:.3f})"
            lines[-1] += f"   {found['median']:.3f} {quartiles}, load {found['load']}"
    lines += ["", "Targets"]
    for target in result["targets"].values():
        verdict = "PASS" if target["pass"] else "MISS"
        lines.append(f"  {verdict}  {target['text']:62} {target['value']:.2f}")
    failed = [name for name, ok in result["checks"].items() if not ok] or "passed"
    lines.append(f"  Output checks (result line and EMF per invocation, no stderr): {failed}")
    return "\n".join(lines)
