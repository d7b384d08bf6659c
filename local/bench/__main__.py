"""`make bench` / `python -m local.bench`: warm latency, cold start, memory and bulk throughput
against floors.

Prints a table, then one JSON line. Every target gets PASS or MISS; the exit status is 0 unless
`--strict` is given and a target is missed or a check of the handler's output fails.

    python -m local.bench                      # the full run (about three minutes)
    python -m local.bench --quick              # a few seconds, noisy: is everything wired?
    python -m local.bench --src /tmp/old/src   # the same benchmark against another source tree
    python -m local.bench --bulk-messages 0    # without the bulk phase

The bulk phase (issue 13 item 7, local/bench/bulk.py says how it measures): SQS batches of 16
through the handler in a fresh process, D24 answering each request after 100 ms, results put on
a bus in the services' process; throughput against the ideal schedule (a batch of B takes
ceil(B/C) x L), CPU per message against a direct invoke's, and the peak RSS of another fresh
process after 10,000 messages (D24 without latency, so that it takes seconds, not minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..function_env import FUNCTION_ENV
from .lambda_like import SRC, function_environment
from .report import (
    bulk_summary,
    bulk_targets,
    cold_summary,
    per_round_ratios,
    result_targets,
    summary,
    table,
)
from .runner import BulkRun, ColdRun, Ids, Worker, XRaySink, check_output, services

WARM_VARIANTS = ("floor", "handler", "handler-traced", "naive")
COLD_VARIANTS = ("floor", "handler", "handler-traced", "snapstart")
MEMORY_VARIANTS = ("handler", "handler-traced", "floor")
WARM_UP = 100  # invocations per variant before any is timed, the first of them cold
NAIVE_WARM_UP = 3
# Untimed invocations at the start of every batch: the first ones after the coordinator switches
# processes run on caches the other worker just used, an artefact of taking turns.
SETTLE = 2
BULK_BATCH_SIZE = 16
BULK_LATENCY = 0.100  # seconds D24 takes to answer each request in the bulk phase
BULK_CONCURRENCY = int(FUNCTION_ENV["BULK_CONCURRENCY"])
BULK_BUS = "cashout-cancel-bench-results"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.bench", description=__doc__)
    parser.add_argument("--rounds", type=int, default=100, help="interleaved warm rounds")
    parser.add_argument(
        "--iterations", type=int, default=40, help="timed cancels per variant per round"
    )
    parser.add_argument("--naive-iterations", type=int, default=2, help="naive cancels per round")
    parser.add_argument(
        "--cold-rounds", type=int, default=24, help="fresh processes per cold variant (0: skip)"
    )
    parser.add_argument(
        "--memory-invocations",
        type=int,
        default=1000,
        help="warm invocations before reading VmHWM (0: skip)",
    )
    parser.add_argument(
        "--bulk-messages", type=int, default=2000, help="SQS messages timed (0: no bulk phase)"
    )
    parser.add_argument(
        "--bulk-direct", type=int, default=1, help="direct invokes after each bulk batch (CPU)"
    )
    parser.add_argument("--bulk-floor-rounds", type=int, default=25, help="batches of the floor")
    parser.add_argument(
        "--bulk-memory-messages", type=int, default=10_000, help="messages before reading VmHWM"
    )
    parser.add_argument("--src", type=Path, default=SRC, help="the function's code to measure")
    parser.add_argument("--quick", action="store_true", help="a few seconds, noisy: a smoke run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.iterations, args.naive_iterations = 2, 10, 1
        args.cold_rounds, args.memory_invocations = 1, 10
        args.bulk_messages, args.bulk_floor_rounds, args.bulk_memory_messages = 64, 2, 160
    args.src = args.src.resolve()
    return args


def _cashouts_needed(args: argparse.Namespace) -> int:
    rounds, memory = int(args.rounds), int(args.memory_invocations)
    fast = 3 * (WARM_UP + rounds * (int(args.iterations) + SETTLE))
    naive = NAIVE_WARM_UP + rounds * int(args.naive_iterations)
    cold = (int(args.cold_rounds) + 1) * len(COLD_VARIANTS)
    return fast + naive + cold + len(MEMORY_VARIANTS) * (memory + 1) + 100


def _warm_phase(
    args: argparse.Namespace, ids: Ids, envs: dict[str, dict[str, str]], workdir: Path
) -> tuple[dict[str, list[list[int]]], dict[str, Any]]:
    """Per variant, the timed samples (ns) of every round; and the checks of the warm-up output."""
    rounds: dict[str, list[list[int]]] = {variant: [] for variant in WARM_VARIANTS}
    checks: dict[str, Any] = {}
    with ExitStack() as stack:
        workers = [stack.enter_context(Worker(v, envs[v], workdir)) for v in WARM_VARIANTS]
        for worker in workers:
            count = NAIVE_WARM_UP if worker.variant == "naive" else WARM_UP
            worker.run(ids.take(count), count)
            if worker.variant.startswith("handler"):
                checks[worker.variant] = check_output(
                    worker.check_file, worker.stderr_file, traced=worker.variant == "handler-traced"
                )
        for round_ in range(args.rounds):
            # Rotate the order every round, so that no variant always follows the same one.
            shift = round_ % len(workers)
            for worker in workers[shift:] + workers[:shift]:
                naive = worker.variant == "naive"
                count = args.naive_iterations if naive else args.iterations
                settle = 0 if naive else SETTLE
                samples = worker.run(ids.take(count + settle), count + settle)
                rounds[worker.variant].append(samples[settle:])
    return rounds, checks


def _memory_phase(
    args: argparse.Namespace, ids: Ids, envs: dict[str, dict[str, str]], workdir: Path
) -> tuple[dict[str, float], dict[str, Any]]:
    """Peak RSS (MB) of a fresh process per variant after its cold start and the warm run."""
    rss_mb: dict[str, float] = {}
    checks: dict[str, Any] = {}
    count = args.memory_invocations
    for variant in MEMORY_VARIANTS:
        run = ColdRun(variant, envs[variant], workdir / f"memory-{variant}")
        report = run.serve(ids.take(count + 1), count)
        rss_mb[variant.replace("-", "_")] = report["peak_rss_kb"] / 1024
        if variant != "floor":
            checks[f"memory-{variant}"] = run.check(traced=variant == "handler-traced")
    return rss_mb, checks


def _cold_phase(
    args: argparse.Namespace, ids: Ids, envs: dict[str, dict[str, str]], workdir: Path
) -> tuple[dict[str, list[dict[str, float]]], dict[str, Any]]:
    """Per variant, the timings of every fresh process; round -1 (untimed) warms the page cache."""
    runs: dict[str, list[dict[str, float]]] = {variant: [] for variant in COLD_VARIANTS}
    checks: dict[str, Any] = {}
    for round_ in range(-1, args.cold_rounds):
        shift = round_ % len(COLD_VARIANTS)
        for variant in COLD_VARIANTS[shift:] + COLD_VARIANTS[:shift]:
            run = ColdRun(variant, envs[variant], workdir / f"cold-{variant}")
            report = run.serve(ids.take(1), 0)
            if round_ >= 0:
                runs[variant].append(report)
            if variant != "floor":
                checks[f"cold-{variant}"] = run.check(traced=variant == "handler-traced")
    return runs, checks


def _bulk_phase(args: argparse.Namespace, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bulk numbers (report.bulk_summary) and the checks of the handler's output."""
    size, direct = BULK_BATCH_SIZE, args.bulk_direct
    rounds, floor_rounds = math.ceil(args.bulk_messages / size), args.bulk_floor_rounds
    checks: dict[str, Any] = {}
    throughput_ids = (rounds + 1) * (size + direct)
    with services(
        throughput_ids + (floor_rounds + 1) * size + 100,
        latency=BULK_LATENCY,
        results_bus=BULK_BUS,
    ) as address:
        ids, env = Ids(address["first_cashout_id"], address["cashouts"]), _bulk_env(address, args)
        run = BulkRun("throughput", env, workdir / "bulk-throughput")
        throughput = run.serve(ids.take(throughput_ids), rounds, size, direct)
        checks["bulk-throughput"] = _bulk_check(run, throughput)
        floor_run = BulkRun("floor", env, workdir / "bulk-floor")
        floor = floor_run.serve(
            ids.take((floor_rounds + 1) * size), floor_rounds, size, 0, BULK_CONCURRENCY
        )
    batches = math.ceil(args.bulk_memory_messages / size)
    with services(batches * size + 100, results_bus=BULK_BUS) as address:
        run = BulkRun("memory", _bulk_env(address, args), workdir / "bulk-memory")
        memory = run.serve(address["first_cashout_id"], batches, size)
        checks["bulk-memory"] = _bulk_check(run, memory)
    bulk = bulk_summary(
        throughput, floor, memory, concurrency=BULK_CONCURRENCY, latency=BULK_LATENCY
    )
    return bulk, checks


def _bulk_env(address: dict[str, Any], args: argparse.Namespace) -> dict[str, str]:
    env = function_environment(address, tracing=False, xray_port=0, src=args.src)
    return env | {"RESULTS_EVENT_BUS": BULK_BUS}


def _bulk_check(run: BulkRun, report: dict[str, Any]) -> dict[str, Any]:
    """The warm-up's output checks, and no batch or direct invoke that went wrong."""
    check = run.check(BULK_BATCH_SIZE) | {"problems": report["problems"]}
    check["ok"] = check["ok"] and not report["problems"]
    return check


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_state(src: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(src), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Run everything, print the table and the JSON line; see the module docstring."""
    args = _parse(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    rss_mb: dict[str, float] = {}
    cold_runs: dict[str, list[dict[str, float]]] = {}
    with (
        XRaySink() as sink,
        services(_cashouts_needed(args)) as address,
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
    ):
        ids = Ids(address["first_cashout_id"], address["cashouts"])
        workdir = Path(tmp)
        envs = {
            variant: function_environment(
                address, tracing=variant == "handler-traced", xray_port=sink.port, src=args.src
            )
            for variant in {*WARM_VARIANTS, *COLD_VARIANTS, *MEMORY_VARIANTS}
        }
        print(f"warm: {args.rounds} rounds ...", file=sys.stderr, flush=True)
        warm_rounds, checks = _warm_phase(args, ids, envs, workdir)
        if args.memory_invocations > 0:
            print("memory ...", file=sys.stderr, flush=True)
            rss_mb, memory_checks = _memory_phase(args, ids, envs, workdir)
            checks.update(memory_checks)
        if args.cold_rounds > 0:
            print(f"cold: {args.cold_rounds} rounds ...", file=sys.stderr, flush=True)
            cold_runs, cold_checks = _cold_phase(args, ids, envs, workdir)
            checks.update(cold_checks)
        xray_segments = sink.received
    bulk: dict[str, Any] = {}
    if args.bulk_messages > 0:
        # After the other phases' services have stopped: the bulk phase starts its own.
        print(f"bulk: {args.bulk_messages} messages ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
            bulk, bulk_checks = _bulk_phase(args, Path(tmp))
        checks.update(bulk_checks)

    warm = {
        variant.replace("-", "_"): summary([ns / 1000 for batch in batches for ns in batch])
        for variant, batches in warm_rounds.items()
    }
    cold = {
        variant.replace("-", "_"): cold_summary(runs, snapstart=variant == "snapstart")
        for variant, runs in cold_runs.items()
    }
    result: dict[str, Any] = {
        "bench": "cashout-cancel",
        "config": {
            "rounds": args.rounds,
            "iterations": args.iterations,
            "settle": SETTLE,
            "naive_iterations": args.naive_iterations,
            "cold_rounds": args.cold_rounds,
            "memory_invocations": args.memory_invocations,
            "bulk_messages": args.bulk_messages,
            "bulk_direct_per_batch": args.bulk_direct,
            "bulk_floor_rounds": args.bulk_floor_rounds,
            "bulk_memory_messages": args.bulk_memory_messages,
            "src": str(args.src),
            "git": _git_state(args.src),
            "python": platform.python_version(),
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
        },
        "warm_us": warm,
        "warm_p50_ratio_per_round": per_round_ratios(warm_rounds["handler"], warm_rounds["floor"]),
        "cold_ratio_per_round": per_round_ratios(
            [[run["total_ms"]] for run in cold_runs.get("handler", [])],
            [[run["total_ms"]] for run in cold_runs.get("floor", [])],
        ),
        "cold_ms": cold,
        "peak_rss_mb": rss_mb,
        "bulk": bulk,
        "xray_segments_received": xray_segments,
        "checks": checks,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    result.update(result_targets(warm, cold, rss_mb))
    if bulk:
        for key, values in bulk_targets(bulk).items():
            result[key].update(values)
    result["checks_pass"] = xray_segments > 0 and all(check["ok"] for check in checks.values())
    result["pass"] = result["checks_pass"] and all(t["pass"] for t in result["targets"].values())
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if args.strict and not result["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
