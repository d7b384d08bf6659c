"""`make bench` runs end to end: a quick run prints the table and one JSON line with every key.

No timing is asserted here (timings belong to the benchmark, never to a unit test); only that
every variant ran, the handler's output passed its checks, and the report has all its parts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WARM = {"floor", "handler", "handler_traced", "naive"}
COLD = {"floor", "handler", "handler_traced", "snapstart"}
TARGETS = {"warm_p50", "warm_p99", "naive_speedup", "cold_start", "peak_rss"}
BULK_TARGETS = {"bulk_throughput", "bulk_cpu_per_message", "bulk_peak_rss"}
RATIOS = {
    "warm_p50",
    "warm_p99",
    "naive_speedup",
    "warm_traced_p50",
    "cold",
    "cold_traced",
    "tracing_cold_extra_ms",
    "tracing_warm_extra_us",
}


@pytest.mark.slow
def test_quick_bench_prints_a_table_and_a_json_line_with_every_key() -> None:
    # When the benchmark runs with tiny counts
    run = subprocess.run(
        [sys.executable, "-m", "local.bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    # Then it exits 0 (targets are reported, not enforced, without --strict)
    assert run.returncode == 0, run.stderr
    *table, last = run.stdout.strip().splitlines()
    report = json.loads(last)
    # And the table names every target with PASS or MISS
    text = "\n".join(table)
    for name in TARGETS | BULK_TARGETS:
        assert report["target_text"][name] in text
    assert text.count("PASS") + text.count("MISS") == len(TARGETS | BULK_TARGETS)
    # And the JSON line has every variant, ratio and target
    assert set(report["warm_us"]) == WARM
    assert set(report["cold_ms"]) == COLD
    for row in [*report["warm_us"].values(), *report["cold_ms"].values()]:
        assert {"n", "p50", "p99"} <= set(row)
        assert row["n"] > 0
    assert {"handler", "handler_traced", "floor"} == set(report["peak_rss_mb"])
    assert set(report["ratios"]) == RATIOS
    assert set(report["targets"]) == TARGETS | BULK_TARGETS
    assert all({"value", "limit", "pass"} == set(t) for t in report["targets"].values())
    assert {"config", "checks", "load_average", "elapsed_s", "pass"} <= set(report)
    # And the bulk phase measured the handler and the floor against the ideal schedule, CPU per
    # message of a batch and of a direct invoke, and the peak RSS of a fresh process
    bulk = report["bulk"]
    assert (bulk["batch_size"], bulk["bulk_concurrency"], bulk["latency_ms"]) == (16, 8, 100)
    assert bulk["ideal_batch_ms"] == 200
    for run in (bulk["handler"], bulk["floor"]):
        assert run["messages"] > 0
        assert 0 < run["ratio_to_ideal"] <= 1
    assert bulk["cpu_ms_per_message"]["sqs"] > 0
    assert bulk["cpu_ms_per_message"]["direct"] > 0
    assert bulk["peak_rss_mb"]["memory_messages"] >= 160
    assert "Bulk: SQS batches of 16" in text
    # And the handler wrote its result line and EMF blob on every checked invocation, and on the
    # bulk phase's warm-up batches a result line per message, all of them published
    assert {"bulk-throughput", "bulk-memory"} <= set(report["checks"])
    assert report["checks_pass"], report["checks"]
    assert report["xray_segments_received"] > 0
