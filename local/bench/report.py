"""The benchmark's figures: pyperf Benchmarks of the samples, the ratios and targets on them, the
table and the JSON line; and the check of what the handler wrote (docs/contract.md section 7)."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyperf

TARGETS = {  # name: (text, limit, at most)
    "warm_p50": ("warm p50 <= 1.15x the floor's p50", 1.15, True),
    "warm_p99": ("warm p99 <= 1.30x the floor's p99", 1.30, True),
    "naive_speedup": ("warm p50 >= 8x faster than the naive handler's", 8.0, False),
    "cold_start": ("cold start, tracing disabled, <= 1.10x the cold floor (p50)", 1.10, True),
    "peak_rss": ("peak RSS, tracing on or off, <= 64 MB", 64.0, True),
    "bulk_throughput": ("bulk throughput >= 0.93x the floor's (B cancels, 1 PutEvents)", 0.93, False),
    "bulk_cpu_per_message": ("bulk CPU per message <= 1.20x a direct invoke's", 1.20, True),
    "bulk_peak_rss": ("bulk peak RSS after {messages} messages <= 80 MB", 80.0, True),
}


def merged(name: str, benchmarks: Iterable[pyperf.Benchmark]) -> pyperf.Benchmark:
    """The runs (worker processes) of several benchmarks as one benchmark called `name`."""
    runs = [
        pyperf.Run(
            run.values,
            warmups=run.warmups or None,
            metadata={**run.get_metadata(), "name": name},
            collect_metadata=False,
        )
        for benchmark in benchmarks
        for run in benchmark.get_runs()
    ]
    return pyperf.Benchmark(runs)


def per_process(name: str, values: Sequence[float], loads: Sequence[float]) -> pyperf.Benchmark:
    """Seconds measured once per fresh process, each its own run, with the load at its start."""
    return pyperf.Benchmark(
        [
            pyperf.Run(
                [value],
                metadata={"name": name, "unit": "second", "load_avg_1min": load},
                collect_metadata=False,
            )
            for value, load in zip(values, loads, strict=True)
        ]
    )


def summary(benchmark: pyperf.Benchmark, scale: float) -> dict[str, Any]:
    """n, p50 and p99 of a benchmark's values, times `scale` (1e6: microseconds)."""
    return {
        "n": len(benchmark.get_values()),
        "p50": round(benchmark.median() * scale, 1),
        "p99": round(benchmark.percentile(99) * scale, 1),
    }


def loads(benchmarks: Iterable[pyperf.Benchmark]) -> list[float]:
    """The lowest and highest 1-minute load average its runs started at."""
    seen = [
        float(run.get_metadata()["load_avg_1min"])
        for benchmark in benchmarks
        for run in benchmark.get_runs()
        if "load_avg_1min" in run.get_metadata()
    ]
    return [round(min(seen), 2), round(max(seen), 2)] if seen else []


def spread(ratios: Sequence[float]) -> dict[str, float]:
    """How a ratio varies round by round (each round's variants ran back to back): its noise."""
    if len(ratios) < 2:
        return dict.fromkeys(("min", "q1", "median", "q3", "max"), ratios[0] if ratios else math.nan)
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    values = (min(ratios), q1, median, q3, max(ratios))
    return dict(zip(("min", "q1", "median", "q3", "max"), (round(v, 3) for v in values), strict=True))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; nan when either is missing."""
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def targets(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target measured in this run: its value, its limit and whether it passed."""
    warm, cold, rss, bulk = result["warm_us"], result["cold_ms"], result["peak_rss_mb"], result["bulk"]
    nan = {"p50": math.nan}
    values = {
        "warm_p50": result["ratios"]["warm_p50"],
        "warm_p99": result["ratios"]["warm_p99"],
        "naive_speedup": ratio(warm["naive"]["p50"], warm["handler"]["p50"]),
        "cold_start": ratio(cold.get("handler", nan)["p50"], cold.get("floor", nan)["p50"]),
        "peak_rss": max(rss.get("handler", math.nan), rss.get("handler_traced", math.nan)),
    }
    if bulk:
        values["bulk_throughput"] = bulk["handler"]["ratio_to_floor"]
        values["bulk_cpu_per_message"] = bulk["cpu_ms_per_message"]["ratio"]
        values["bulk_peak_rss"] = bulk["peak_rss_mb"]["memory_run"]
    found = {}
    for name, value in values.items():
        text, limit, at_most = TARGETS[name]
        passed = value <= limit if at_most else value >= limit
        messages = bulk["peak_rss_mb"]["memory_messages"] if bulk else 0
        found[name] = {
            "value": round(value, 3),
            "limit": limit,
            "pass": passed,
            "text": text.format(messages=messages),
        }
    return found


def check_output(stdout: Path, stderr: Path, *, traced: bool, caller: str = "") -> dict[str, Any]:
    """Count the result lines (correlation id, cashout_id, outcome; the trace id when traced),
    the EMF blobs (outcome metric and UpstreamLatency, or ResultsPublished), stderr's lines."""
    results = emf = published = 0
    for line in stdout.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("message") == "cancel finished":
            keys = ["correlation_id", "cashout_id", "outcome", *(["xray_trace_id"] * traced)]
            results += all(record.get(key) for key in keys) and record.get("caller", "") >= caller
        elif "_aws" in record:
            metrics = {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
            emf += {"CANCELLED", "UpstreamLatency"} <= metrics
            published += sum(record.get("ResultsPublished") or [])
    errors = sum(1 for line in stderr.read_text().splitlines() if line.strip())
    return {"result_lines": results, "emf_lines": emf, "published": published, "stderr": errors}


def table(result: Mapping[str, Any]) -> str:
    """The human-readable report."""
    cfg, load = result["config"], result["load"]
    machine = result["machine"]
    lines = [
        f"cashout-cancel benchmark ({cfg['git']}), {result['date']}: Python"
        f" {machine['python_version']}, {machine['cpu_model_name']}, {machine['cpu_count']} CPUs,"
        f" load {result['load_average'][0]} -> {result['load_average'][1]},"
        f" {result['elapsed_s']:.0f} s",
        "",
        f"{'Warm: one cancel per invocation, us':36} {'p50':>8} {'p99':>8} {'n':>6}"
        f" {'p50/floor':>10} {'p99/floor':>10}",
    ]
    warm = result["warm_us"]
    for key, label in (
        ("floor", "floor: signed request, Session"),
        ("handler", "handler: result line + EMF"),
        ("handler_traced", "handler, tracing on"),
        ("naive", "naive handler"),
    ):
        row = warm[key]
        lines.append(
            f"  {label:34} {row['p50']:8.0f} {row['p99']:8.0f} {row['n']:6d}"
            f" {ratio(row['p50'], warm['floor']['p50']):9.2f}x"
            f" {ratio(row['p99'], warm['floor']['p99']):9.2f}x"
        )
    lines.append(_spread_line("handler/floor p50", result["per_round"]["warm_p50"], load["warm"]))
    cold = result["cold_ms"]
    if cold:
        lines += [
            "",
            f"{'Cold start to first answer, ms':36} {'p50':>8} {'p99':>8} {'n':>6}"
            f" {'p50/floor':>10} {'imports':>8} {'1st call':>9}",
        ]
        for key, label in (
            ("floor", "floor: boto3 + requests + 1 call"),
            ("handler", "handler, tracing disabled"),
            ("handler_traced", "handler, tracing enabled"),
            ("snapstart", "handler, SnapStart restore *"),
        ):
            row = cold[key]
            lines.append(
                f"  {label:34} {row['p50']:8.1f} {row['p99']:8.1f} {row['n']:6d}"
                f" {ratio(row['p50'], cold['floor']['p50']):9.2f}x"
                f" {row['import_p50']:8.1f} {row['first_p50']:9.1f}"
            )
        lines.append("  * the time is after_restore + the first call (the rest is in the snapshot)")
        lines.append(_spread_line("handler/floor", result["per_round"]["cold"], load["cold"]))
        lines.append(
            f"  tracing enabled adds {result['ratios']['tracing_cold_extra_ms']:.1f} ms to the"
            f" cold start and {result['ratios']['tracing_warm_extra_us']:.0f} us to a warm call"
        )
    if result["peak_rss_mb"]:
        rss = ", ".join(f"{name} {mb:.1f} MB" for name, mb in result["peak_rss_mb"].items())
        lines += ["", f"Peak RSS (VmHWM) of a fresh process after its warm invocations: {rss}"]
    if result["bulk"]:
        lines += ["", *_bulk_table(result["bulk"], result["per_round"]["bulk"], load["bulk"])]
    lines += ["", "Targets"]
    for target in result["targets"].values():
        verdict = "PASS" if target["pass"] else "MISS"
        lines.append(f"  {verdict}  {target['text']:64} {target['value']:.2f}")
    checks = "all passed" if result["checks_pass"] else "FAILED"
    lines.append(
        f"  Output checks (result line and EMF per invocation, no stderr, X-Ray segments"
        f" {result['xray_segments_received']}): {checks}"
    )
    return "\n".join(lines)


def _spread_line(name: str, spread: Mapping[str, float], load: Sequence[float]) -> str:
    return (
        f"  {name}, round by round: median {spread['median']:.3f} (quartiles {spread['q1']:.3f}"
        f"-{spread['q3']:.3f}); load {'-'.join(map(str, load))}"
    )


def _bulk_table(bulk: Mapping[str, Any], spread: Mapping[str, float], load: Sequence[float]) -> list[str]:
    handler, floor, cpu = bulk["handler"], bulk["floor"], bulk["cpu_ms_per_message"]
    head = (
        f"Bulk: SQS batches of {bulk['batch_size']}, D24 latency {bulk['latency_ms']:g} ms,"
        f" BULK_CONCURRENCY {bulk['bulk_concurrency']}"
    )
    lines = [f"{head:60} {'batch ms':>9} {'p99':>7} {'msgs/s':>8} {'x floor':>8} {'x ideal':>8}"]
    for label, row in (
        ("floor: B cancels on C sessions, then 1 PutEvents", floor),
        (f"handler: {handler['messages']} messages, results published", handler),
    ):
        lines.append(
            f"  {label:58} {row['batch_ms']['p50']:9.1f} {row['batch_ms']['p99']:7.1f}"
            f" {row['messages_per_s']:8.1f} {row['ratio_to_floor']:7.2f}x"
            f" {row['ratio_to_ideal']:7.2f}x"
        )
    rss = bulk["peak_rss_mb"]
    return [
        *lines,
        f"  the floor's PutEvents (10 entries, moto) p50 {floor['put_events_ms']['p50']:.1f} ms;"
        f" ideal schedule ceil(B/C) x L = {bulk['ideal_batch_ms']:.0f} ms a batch",
        _spread_line("handler/floor throughput", spread, load),
        f"  CPU per message: SQS batch {cpu['sqs']:.2f} ms, direct invoke {cpu['direct']:.2f} ms"
        f" ({cpu['ratio']:.2f}x; direct invoke wall p50 {bulk['direct_ms']['p50']:.1f} ms)",
        f"  Peak RSS (VmHWM), a fresh process after {rss['memory_messages']} messages (D24"
        f" latency 0): {rss['memory_run']:.1f} MB; after the throughput run:"
        f" {rss['throughput_run']:.1f} MB",
    ]
