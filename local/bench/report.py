"""Statistics, targets and output of the benchmark: a readable table and one JSON line."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(samples: Sequence[float], p: float) -> float:
    """The nearest-rank percentile `p` (0-100] of `samples`; nan when there are none."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(samples: Sequence[float]) -> dict[str, Any]:
    """n, p50 and p99 of `samples`."""
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 50), 1),
        "p99": round(percentile(samples, 99), 1),
    }


def cold_summary(runs: Sequence[Mapping[str, float]], *, snapstart: bool) -> dict[str, Any]:
    """p50/p99 of the time to the first answer, and the p50 of its two parts.

    For a SnapStart restore the imports and the before-snapshot hook are in the snapshot: the
    time to the first answer is the after-restore hook plus the first invocation.
    """
    row = summary([run["first_ms" if snapstart else "total_ms"] for run in runs])
    row["import_p50"] = round(percentile([run["import_ms"] for run in runs], 50), 1)
    row["first_p50"] = round(percentile([run["first_ms"] for run in runs], 50), 1)
    return row


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; nan when either is missing."""
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def per_round_ratios(
    mine: Sequence[Sequence[float]], base: Sequence[Sequence[float]]
) -> dict[str, float]:
    """The spread of the p50 ratio round by round (each round's samples are adjacent in time):
    how much of the overall ratio is noise."""
    ratios = sorted(
        ratio(percentile(ours, 50), percentile(floor, 50))
        for ours, floor in zip(mine, base, strict=True)
    )
    return {
        "min": round(ratios[0], 3) if ratios else math.nan,
        "q1": round(percentile(ratios, 25), 3),
        "median": round(percentile(ratios, 50), 3),
        "q3": round(percentile(ratios, 75), 3),
        "max": round(ratios[-1], 3) if ratios else math.nan,
    }


@dataclass(frozen=True)
class Target:
    """One target of the issue: `value` must be at most (or at least) `limit`."""

    name: str
    text: str
    value: float
    limit: float
    at_most: bool = True

    @property
    def passed(self) -> bool:
        """True when the value is on the right side of the limit (never when it is missing)."""
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def to_dict(self) -> dict[str, Any]:
        """The target in the JSON line."""
        return {"value": round(self.value, 3), "limit": self.limit, "pass": self.passed}


def result_targets(
    warm: Mapping[str, Any], cold: Mapping[str, Any], rss_mb: Mapping[str, float]
) -> dict[str, Any]:
    """The ratios, each measured in the same run, and the issue's targets on them."""
    nan = {"p50": math.nan, "p99": math.nan}
    floor, handler = warm["floor"], warm["handler"]
    cold_floor, cold_handler = cold.get("floor", nan), cold.get("handler", nan)
    cold_traced = cold.get("handler_traced", nan)
    ratios = {
        "warm_p50": ratio(handler["p50"], floor["p50"]),
        "warm_p99": ratio(handler["p99"], floor["p99"]),
        "naive_speedup": ratio(warm["naive"]["p50"], handler["p50"]),
        "warm_traced_p50": ratio(warm["handler_traced"]["p50"], floor["p50"]),
        "cold": ratio(cold_handler["p50"], cold_floor["p50"]),
        "cold_traced": ratio(cold_traced["p50"], cold_floor["p50"]),
        "tracing_cold_extra_ms": cold_traced["p50"] - cold_handler["p50"],
        "tracing_warm_extra_us": warm["handler_traced"]["p50"] - handler["p50"],
    }
    peak = max(rss_mb.get("handler", math.nan), rss_mb.get("handler_traced", math.nan))
    targets = [
        Target("warm_p50", "warm p50 <= 1.15x the floor's p50", ratios["warm_p50"], 1.15),
        Target("warm_p99", "warm p99 <= 1.30x the floor's p99", ratios["warm_p99"], 1.30),
        Target(
            "naive_speedup",
            "warm p50 >= 8x faster than the naive handler's",
            ratios["naive_speedup"],
            8.0,
            at_most=False,
        ),
        Target(
            "cold_start",
            "cold start, tracing disabled, <= 1.10x the cold floor (p50)",
            ratios["cold"],
            1.10,
        ),
        Target("peak_rss", "peak RSS, tracing on or off, <= 64 MB", peak, 64.0),
    ]
    return {
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
        "targets": {target.name: target.to_dict() for target in targets},
        "target_text": {target.name: target.text for target in targets},
    }


_WARM_ROWS = (
    ("floor", "floor: signed request, Session"),
    ("handler", "handler: result line + EMF"),
    ("handler_traced", "handler, tracing on"),
    ("naive", "naive handler"),
)
_COLD_ROWS = (
    ("floor", "floor: boto3 + requests + 1 call"),
    ("handler", "handler, tracing disabled"),
    ("handler_traced", "handler, tracing enabled"),
    ("snapstart", "handler, SnapStart restore *"),
)


def _warm_table(warm: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{'Warm: one cancel per invocation, us':36} {'p50':>8} {'p99':>8} {'n':>6}"
        f" {'p50/floor':>10} {'p99/floor':>10}"
    ]
    for key, label in _WARM_ROWS:
        row = warm[key]
        lines.append(
            f"  {label:34} {row['p50']:8.0f} {row['p99']:8.0f} {row['n']:6d}"
            f" {ratio(row['p50'], warm['floor']['p50']):9.2f}x"
            f" {ratio(row['p99'], warm['floor']['p99']):9.2f}x"
        )
    return lines


def _cold_table(cold: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{'Cold start to first answer, ms':36} {'p50':>8} {'p99':>8} {'n':>6}"
        f" {'p50/floor':>10} {'imports':>8} {'1st call':>9}"
    ]
    for key, label in _COLD_ROWS:
        row = cold[key]
        lines.append(
            f"  {label:34} {row['p50']:8.1f} {row['p99']:8.1f} {row['n']:6d}"
            f" {ratio(row['p50'], cold['floor']['p50']):9.2f}x"
            f" {row['import_p50']:8.1f} {row['first_p50']:9.1f}"
        )
    lines.append(
        "  * imports and the before-snapshot hook are in the snapshot; the time is"
        " after_restore + the first call"
    )
    return lines


def table(result: Mapping[str, Any]) -> str:
    """The human-readable report."""
    cfg = result["config"]
    spread = result["warm_p50_ratio_per_round"]
    lines = [
        f"cashout-cancel benchmark ({cfg['git']}): Python {cfg['python']}, {cfg['cpu']},"
        f" {cfg['cpus']} CPUs, load {result['load_average'][0]} -> {result['load_average'][1]},"
        f" {result['elapsed_s']:.0f} s",
        f"warm: {cfg['rounds']} interleaved rounds of {cfg['iterations']} timed cancels per"
        f" variant (naive {cfg['naive_iterations']}); cold: {cfg['cold_rounds']} fresh processes"
        f" per variant; memory: after {cfg['memory_invocations']} warm invocations",
        "",
        *_warm_table(result["warm_us"]),
        f"  handler/floor p50, round by round: median {spread['median']:.3f}"
        f" (quartiles {spread['q1']:.3f}-{spread['q3']:.3f})",
    ]
    if result["cold_ms"]:
        cold_spread = result["cold_ratio_per_round"]
        lines += ["", *_cold_table(result["cold_ms"])]
        lines.append(
            f"  handler/floor, round by round: median {cold_spread['median']:.3f}"
            f" (quartiles {cold_spread['q1']:.3f}-{cold_spread['q3']:.3f})"
        )
        lines.append(
            f"  tracing enabled adds {result['ratios']['tracing_cold_extra_ms']:.1f} ms to the"
            f" cold start and {result['ratios']['tracing_warm_extra_us']:.0f} us to a warm call"
        )
    if result["peak_rss_mb"]:
        lines += [
            "",
            "Peak RSS (VmHWM) of a fresh process after its warm invocations: "
            + ", ".join(f"{name} {mb:.1f} MB" for name, mb in result["peak_rss_mb"].items()),
        ]
    lines += ["", "Targets"]
    for name, target in result["targets"].items():
        verdict = "PASS" if target["pass"] else "MISS"
        lines.append(f"  {verdict}  {result['target_text'][name]:62} {target['value']:.2f}")
    checks = "all passed" if result["checks_pass"] else "FAILED"
    lines.append(
        f"  Output checks (result line and EMF per invocation, no stderr, X-Ray segments"
        f" {result['xray_segments_received']}): {checks}"
    )
    return "\n".join(lines)
