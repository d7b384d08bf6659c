"""`make bench --quick` runs end to end: it prints a table, then one JSON line with every part.

No timing is asserted (timings belong to the benchmark, never to a test): only that every
variant ran, the handler's output passed its checks, and the report has all its parts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGETS = {
    "warm_p50", "warm_p99", "naive_speedup", "peak_rss_mb",
    "cold", "cold_extension", "cold_extension_traced",
    "bulk_throughput", "bulk_cpu", "bulk_peak_rss_mb",
}  # fmt: skip
SPREADS = {"warm_p50", "cold", "bulk_throughput"}


@pytest.mark.slow
def test_quick_bench_prints_a_table_and_a_json_line_with_every_part() -> None:
    # When the benchmark runs with tiny counts
    run = subprocess.run(
        [sys.executable, "-m", "local.bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Then it exits 0 (targets are reported, not enforced, without --strict)
    assert run.returncode == 0, run.stderr
    *table, last = run.stdout.strip().splitlines()
    report = json.loads(last)
    # And the table gives every target a verdict
    text = "\n".join(table)
    assert set(report["targets"]) == TARGETS
    for target in report["targets"].values():
        assert f"{'PASS' if target['pass'] else 'MISS'}  {target['text']}" in text
    # And each section has every variant, measured
    warm, cold, bulk, rss = report["sections"].values()
    assert set(warm) == {"floor", "handler", "handler-traced", "naive"}
    assert set(cold) == {
        "floor",
        "handler",
        "handler-traced",
        "extension",
        "extension-traced",
        "snapstart",
    }
    assert len(bulk) == 4
    assert len(rss) == 5
    for row in [*warm.values(), *cold.values(), *bulk.values()]:
        assert row["n"] > 0
        assert row["p50"] > 0
    # And each ratio that has a spread round by round has one, with the load it met
    assert set(report["per_round"]) == SPREADS
    assert all(len(spread["load"]) == 2 for spread in report["per_round"].values())
    # And the handler wrote its result line and EMF blob on every invocation, every process
    assert report["checks"]
    assert all(report["checks"].values()), report["checks"]
    assert {"date", "git", "machine", "load_average", "elapsed_s", "pass"} <= set(report)
