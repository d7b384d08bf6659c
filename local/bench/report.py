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
    if result.get("bulk"):
        lines += ["", *_bulk_table(result["bulk"])]
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


# Bulk: SQS batches against the ideal schedule


def bulk_summary(
    throughput: Mapping[str, Any],
    floor: Mapping[str, Any],
    memory: Mapping[str, Any],
    *,
    concurrency: int,
    latency: float,
) -> dict[str, Any]:
    """The bulk phase's numbers: each run's batches against the ideal schedule, a batch of B taking
    ceil(B/C) x L; CPU per message of a batch and of a direct invoke; the peak RSS."""
    handler = _against_ideal(throughput["batches"], concurrency, latency)
    reference = _against_ideal(floor["batches"], concurrency, latency)
    reference["put_events_ms"] = summary([s * 1000 for s in floor["put_events"]])
    sqs_cpu = _cpu_ms_per_message(throughput["batches"])
    direct = throughput["direct"]
    direct_cpu = sum(cpu for _, cpu in direct) * 1000 / len(direct) if direct else math.nan
    batch_size = int(throughput["batches"][0][0]) if throughput["batches"] else 0
    ideal_ms = math.ceil(batch_size / concurrency) * latency * 1000
    # What no implementation can avoid: the floor's cancels, then the one PutEvents that has to
    # follow the last of them (its result is known only then). Not a target: a reference that
    # shows what the handler adds on top of the two.
    floor_and_put_ms = reference["batch_ms"]["p50"] + reference["put_events_ms"]["p50"]
    return {
        "batch_size": batch_size,
        "bulk_concurrency": concurrency,
        "latency_ms": round(latency * 1000, 1),
        "ideal_batch_ms": round(ideal_ms, 1),
        "handler": handler,
        "floor": reference,
        "floor_then_put_events": {
            "batch_ms_p50": round(floor_and_put_ms, 1),
            "ratio_to_ideal": round(ratio(ideal_ms, floor_and_put_ms), 3),
            "handler_p50_ratio": round(ratio(handler["batch_ms"]["p50"], floor_and_put_ms), 3),
        },
        "direct_ms": summary([wall * 1000 for wall, _ in direct]),
        "cpu_ms_per_message": {
            "sqs": round(sqs_cpu, 3),
            "direct": round(direct_cpu, 3),
            "ratio": round(ratio(sqs_cpu, direct_cpu), 3),
        },
        "peak_rss_mb": {
            "memory_run": round(memory["peak_rss_kb"] / 1024, 1),
            "memory_messages": sum(int(size) for size, *_ in memory["batches"]),
            "throughput_run": round(throughput["peak_rss_kb"] / 1024, 1),
        },
    }


def _against_ideal(
    batches: Sequence[Sequence[float]], concurrency: int, latency: float
) -> dict[str, Any]:
    """Messages, wall time per batch, and throughput as a share of the ideal schedule's."""
    messages = sum(int(size) for size, *_ in batches)
    wall = sum(seconds for _, seconds, *_ in batches)
    ideal = sum(math.ceil(int(size) / concurrency) * latency for size, *_ in batches)
    return {
        "messages": messages,
        "batch_ms": summary([seconds * 1000 for _, seconds, *_ in batches]),
        "messages_per_s": round(ratio(messages, wall), 1),
        "ideal_messages_per_s": round(ratio(messages, ideal), 1),
        "ratio_to_ideal": round(ratio(ideal, wall), 3),
    }


def _cpu_ms_per_message(batches: Sequence[Sequence[float]]) -> float:
    messages = sum(int(size) for size, *_ in batches)
    return ratio(sum(cpu for *_, cpu in batches) * 1000, messages)


def bulk_targets(bulk: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's bulk targets (item 7), shaped as result_targets' targets and texts."""
    rss = bulk["peak_rss_mb"]
    targets = [
        Target(
            "bulk_throughput",
            "bulk throughput >= 0.90x the ideal schedule, ceil(B/C) x L",
            bulk["handler"]["ratio_to_ideal"],
            0.90,
            at_most=False,
        ),
        Target(
            "bulk_cpu_per_message",
            "bulk CPU per message <= 1.20x a direct invoke's",
            bulk["cpu_ms_per_message"]["ratio"],
            1.20,
        ),
        Target(
            "bulk_peak_rss",
            f"bulk peak RSS after {rss['memory_messages']} messages <= 80 MB",
            rss["memory_run"],
            80.0,
        ),
    ]
    return {
        "targets": {target.name: target.to_dict() for target in targets},
        "target_text": {target.name: target.text for target in targets},
    }


def _bulk_table(bulk: Mapping[str, Any]) -> list[str]:
    handler, floor, cpu, rss = (
        bulk["handler"],
        bulk["floor"],
        bulk["cpu_ms_per_message"],
        bulk["peak_rss_mb"],
    )
    head = (
        f"Bulk: SQS batches of {bulk['batch_size']}, D24 latency {bulk['latency_ms']:g} ms,"
        f" BULK_CONCURRENCY {bulk['bulk_concurrency']}"
    )
    lines = [
        f"{head:60} {'batch ms':>9} {'p99':>7} {'msgs/s':>8} {'x ideal':>8}",
        f"  {'ideal schedule: ceil(B/C) x L a batch':58} {bulk['ideal_batch_ms']:9.1f}"
        f" {'':>7} {handler['ideal_messages_per_s']:8.1f} {1:7.2f}x",
    ]
    for label, row in (
        (f"floor: {floor['messages']} bare cancels, C threads, no publishing", floor),
        (f"handler: {handler['messages']} messages, results published", handler),
    ):
        lines.append(
            f"  {label:58} {row['batch_ms']['p50']:9.1f} {row['batch_ms']['p99']:7.1f}"
            f" {row['messages_per_s']:8.1f} {row['ratio_to_ideal']:7.2f}x"
        )
    both = bulk["floor_then_put_events"]
    lines += [
        f"  one PutEvents of 10 entries to the local bus (moto): p50"
        f" {floor['put_events_ms']['p50']:.1f} ms; the floor's batch then one PutEvents:"
        f" {both['batch_ms_p50']:.1f} ms ({both['ratio_to_ideal']:.2f}x ideal; handler p50"
        f" {both['handler_p50_ratio']:.2f}x that)",
        f"  CPU per message: SQS batch {cpu['sqs']:.2f} ms, direct invoke {cpu['direct']:.2f} ms"
        f" ({cpu['ratio']:.2f}x; direct invoke wall p50 {bulk['direct_ms']['p50']:.1f} ms)",
        f"  Peak RSS (VmHWM), a fresh process after {rss['memory_messages']} messages (D24"
        f" latency 0): {rss['memory_run']:.1f} MB; after the throughput run:"
        f" {rss['throughput_run']:.1f} MB",
    ]
    return lines
