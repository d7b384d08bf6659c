"""`make bench` / `python -m local.bench [--quick] [--strict] [--src DIR] [-o FILE]`: the function's
warm latency, cold start, memory and bulk throughput against floors measured in the same run.

`--quick` checks the wiring (tiny counts, noisy numbers); `--src` measures another copy of the
function's code; `-o` saves the samples for `python -m pyperf compare_to`; `--strict` exits 1 when
a target is missed or the handler's output fails its check. Prints a table and one JSON line.

pyperf runs the warm variants: a worker process per variant per round, each round's variants back
to back in rotating order, so that the machine's drift reaches them alike. Cold starts, memory and
bulk runs are fresh processes that time themselves and report on a pipe (pyperf's `bench_command`
would charge the interpreter's teardown, which Lambda never does); their values become pyperf
Benchmarks too. The services run in a process of their own (local/bench/services.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyperf

from ..events import api_rest_event, direct_event
from . import report, warm
from .bulk import BATCH_SIZE, CONCURRENCY
from .services import REPO, external_id, process_environment, services, trace_header

# Cold variants: name -> (the variant in local/bench/cold.py, tracing enabled).
COLD = {"floor": ("floor", False), "handler": ("handler", False)}
COLD |= {"handler-traced": ("handler", True), "snapstart": ("snapstart", False)}
LATENCY = 0.100  # seconds D24 takes to answer in the bulk run


def _runner() -> pyperf.Runner:
    runner = pyperf.Runner(values=200, warmups=50, loops=1, processes=1, add_cmdline_args=_setup)
    runner._program_args = ("-m", "local.bench")  # noqa: SLF001 - a module, not a script
    add = runner.argparser.add_argument
    add("--rounds", type=int, default=20, help="warm rounds: a worker per variant each")
    add("--cold-rounds", type=int, default=20, help="fresh processes per cold variant")
    add("--bulk-messages", type=int, default=2000, help="SQS messages timed (0: no bulk run)")
    add("--src", type=Path, default=Path(REPO, "src"), help="the function's code to measure")
    add("--quick", action="store_true", help="a wiring check: tiny counts, noisy numbers")
    add("--strict", action="store_true", help="exit 1 when a target is missed")
    add("--setup", help=argparse.SUPPRESS)  # to the workers: services, code, files, cashouts
    runner.argparser.set_defaults(affinity="0", quiet=True)  # the services run on CPU 1
    return runner


def _setup(command: list[str], args: argparse.Namespace) -> None:
    command += ["--rounds", str(args.rounds), "--setup", args.setup]


def _warm(runner: pyperf.Runner, args: argparse.Namespace) -> dict[str, list[Any]]:
    """Per variant, a Benchmark per round; in a worker, only the worker's own task runs."""
    setup, fast = json.loads(args.setup), {"values": args.values, "warmups": args.warmups}
    rounds: dict[str, list[Any]] = {variant: [] for variant in warm.VARIANTS}
    for round_, shift in ((r, k) for r in range(args.rounds) for k in range(4)):
        index = (round_ + shift) % 4  # no variant always follows the same one
        variant, name = warm.VARIANTS[index], f"warm-{warm.VARIANTS[index]}-{round_}"
        vars(args).update({"values": 5, "warmups": 3} if variant == "naive" else fast)
        first = setup["first_cashout_id"] + (round_ * 4 + index) * setup["per_worker"]
        time_func = warm.time_function(variant, setup, first, f"{setup['workdir']}/{name}")
        try:
            rounds[variant].append(runner.bench_time_func(name, time_func))
        except RuntimeError:  # the worker failed: its stderr says why
            sys.stderr.write(Path(f"{setup['workdir']}/{name}.err").read_text())
            raise
    vars(args).update(fast)
    return rounds


def _child(
    module: str, arguments: list[str], env: dict[str, str], out: str, lines: str = ""
) -> Any:
    """`python -m module *arguments REPORT_FD` to its end, `lines` on its stdin, its output to
    `out`.out and .err: the JSON it wrote on REPORT_FD."""
    read_fd, write_fd = os.pipe()
    with open(f"{out}.out", "w") as stdout, open(f"{out}.err", "w") as stderr:
        command = [sys.executable, "-m", module, *arguments, str(write_fd)]
        options = {"cwd": REPO, "env": env, "stdout": stdout, "stderr": stderr, "text": True}
        try:
            subprocess.run(command, input=lines, pass_fds=(write_fd,), check=True, **options)
        finally:
            os.close(write_fd)
    with os.fdopen(read_fd) as found:
        return json.load(found)


def _cold(variant: str, first: int, warm_count: int, setup: dict[str, Any]) -> tuple[Any, bool]:
    """A fresh process of a cold variant: its report; whether its output passed the check."""
    child, tracing = COLD[variant]
    lines = []
    for cashout_id in range(first, first + warm_count + 1):
        ext, trace = external_id(cashout_id), tracing and trace_header()
        event = api_rest_event(cashout_id, {"external_id": ext}, request_id=f"api-{cashout_id}")
        event = direct_event(cashout_id, ext) if child == "floor" else event
        lines.append(json.dumps({"event": event, "trace": trace}) + "\n")
    env, out = process_environment(setup, tracing=tracing), f"{setup['workdir']}/{variant}"
    found = _child("local.bench.cold", [child, str(warm_count)], env, out, "".join(lines))
    return found, child == "floor" or report.check_output(out, warm_count + 1, traced=tracing)


def _bulk(rounds: int, latency: float, setup: dict[str, Any], *floor: str) -> tuple[Any, bool]:
    """A bulk worker (local/bench/bulk.py) on services of its own: its report and its check."""
    with services((rounds + 1) * (2 * BATCH_SIZE + 1), latency) as address:
        env, out = process_environment(setup | address), f"{setup['workdir']}/bulk{len(floor)}"
        arguments = [str(rounds), str(address["first_cashout_id"]), *floor]
        found = _child("local.bench.bulk", arguments, env, out)
    ok = report.check_output(out, (rounds + 1) * BATCH_SIZE, caller="sqs")
    return found, ok and not found["problems"]


def _measure(runner: pyperf.Runner, args: argparse.Namespace, setup: dict[str, Any]) -> Any:
    """Every phase: the sections of the table, the figures and their spread, the checks."""
    memory = 10 if args.quick else 1000
    cold_first = setup["first_cashout_id"] + 4 * args.rounds * setup["per_worker"]
    with contextlib.redirect_stdout(sys.stderr):  # pyperf's lines are progress
        rounds = _warm(runner, args)
    checks = {
        f"warm-{variant}-{round_}": report.check_output(
            f"{setup['workdir']}/warm-{variant}-{round_}", setup["per_worker"], traced=traced
        )
        for variant, traced in (("handler", False), ("handler-traced", True))
        for round_ in range(args.rounds)
    }
    print("cold starts ...", file=sys.stderr, flush=True)
    cold: dict[str, list[Any]] = {variant: [] for variant in COLD}
    names = [*COLD]
    order = [names[r % 4 :] + names[: r % 4] for r in range(args.cold_rounds + 1)]  # rotating
    for number, variant in enumerate(sum(order, [])):  # the first round warms the page cache
        load = os.getloadavg()[0]
        found, checks[f"cold-{variant}"] = _cold(variant, cold_first + number, 0, setup)
        cold[variant] += [found | {"load": load}] if number >= len(COLD) else []
    first, rss = cold_first + len(COLD) * (args.cold_rounds + 1), {}
    for number, variant in enumerate(("handler", "handler-traced", "floor")):
        found, checks[f"memory-{variant}"] = _cold(
            variant, first + number * (memory + 1), memory, setup
        )
        rss[f"{variant}, {memory} warm invocations"] = found["rss_kb"] / 1024
    warm_benches = {
        variant: report.benchmark(
            f"warm {variant}",
            [run.values for bench in benches for run in bench.get_runs()],
            [run.get_metadata()["load_avg_1min"] for bench in benches for run in bench.get_runs()],
        )
        for variant, benches in rounds.items()
    }
    cold_benches = {
        variant: report.benchmark(
            f"cold {variant}", [[r["total_ms"] / 1e3] for r in runs], [r["load"] for r in runs]
        )
        for variant, runs in cold.items()
    }
    warm_rows, cold_rows = report.rows(warm_benches, 1e6), report.rows(cold_benches, 1e3)
    for variant, row in cold_rows.items():
        row["imports"] = statistics.median(run["import_ms"] for run in cold[variant])
        row["1st call"] = statistics.median(run["first_ms"] for run in cold[variant])
    figures = {
        "warm_p50": warm_rows["handler"]["p50/floor"],
        "warm_p99": warm_rows["handler"]["p99/floor"],
        "naive_speedup": warm_rows["naive"]["p50"] / warm_rows["handler"]["p50"],
        "warm_traced_p50": warm_rows["handler-traced"]["p50/floor"],
        "tracing_warm_extra_us": warm_rows["handler-traced"]["p50"] - warm_rows["handler"]["p50"],
        "cold": cold_rows["handler"]["p50/floor"],
        "cold_traced": cold_rows["handler-traced"]["p50/floor"],
        "tracing_cold_extra_ms": cold_rows["handler-traced"]["p50"] - cold_rows["handler"]["p50"],
        "peak_rss_mb": max(list(rss.values())[:2]),
    }
    per_round = {
        "warm_p50": report.spread(
            [
                h.median() / f.median()
                for h, f in zip(rounds["handler"], rounds["floor"], strict=True)
            ],
            report.loads(list(warm_benches.values())),
        ),
        "cold": report.spread(
            [
                h["total_ms"] / f["total_ms"]
                for h, f in zip(cold["handler"], cold["floor"], strict=True)
            ],
            report.loads(list(cold_benches.values())),
        ),
    }
    sections = {"Warm: one cancel per invocation, us": warm_rows}
    sections["Cold start to the first answer, ms (SnapStart: after_restore + 1st call)"] = cold_rows
    if args.bulk_messages:
        print("bulk ...", file=sys.stderr, flush=True)
        load = [round(os.getloadavg()[0], 2)]
        run, checks["bulk"] = _bulk(
            math.ceil(args.bulk_messages / BATCH_SIZE), LATENCY, setup, "--floor"
        )
        memory_run, checks["bulk-memory"] = _bulk(10 if args.quick else 624, 0.0, setup)
        load.append(round(os.getloadavg()[0], 2))
        rss[f"bulk, {(len(memory_run['sqs']) + 1) * BATCH_SIZE} messages"] = (
            memory_run["rss_kb"] / 1024
        )
        rss["bulk, after the throughput run"] = run["rss_kb"] / 1024
        walls = {
            "floor: B cancels on C sessions + 1 PutEvents": [sum(t) for t in run["floor"]],
            "handler: the SQS batch, results published": [t[0] for t in run["sqs"]],
            "direct invoke": [t[0] for t in run["direct"]],
            "the floor's PutEvents (10 entries)": [t[1] for t in run["floor"]],
        }
        benches = {
            k: report.benchmark(k, [[w] for w in v], load[:1] * len(v)) for k, v in walls.items()
        }
        sections[
            f"Bulk: batches of {BATCH_SIZE}, L {LATENCY * 1e3:.0f} ms, C {CONCURRENCY}; ms"
        ] = report.rows(benches, 1e3)
        handler_s, floor_s = (sum(w) / len(w) for w in list(walls.values())[1::-1])
        cpu = [
            sum(t[1] for t in run["sqs"]) / BATCH_SIZE / len(run["sqs"]),
            statistics.mean(t[1] for t in run["direct"]),
        ]
        figures |= {
            "bulk_throughput": floor_s / handler_s,
            "bulk_ideal": math.ceil(BATCH_SIZE / CONCURRENCY) * LATENCY / handler_s,
            "bulk_messages_per_s": BATCH_SIZE / handler_s,
            "bulk_cpu": cpu[0] / cpu[1],
            "bulk_cpu_ms_per_message": cpu[0] * 1e3,
            "direct_cpu_ms": cpu[1] * 1e3,
            "bulk_peak_rss_mb": memory_run["rss_kb"] / 1024,
        }
        ratios = [f / h for f, h in zip(*list(walls.values())[:2], strict=True)]
        per_round["bulk_throughput"] = report.spread(ratios, load)
    sections["Peak RSS (VmHWM) of a fresh process, MB"] = {k: {"MB": v} for k, v in rss.items()}
    suite = [*warm_benches.values(), *cold_benches.values()]
    return sections, figures, per_round, checks, suite


def main() -> int:
    """Run everything, print the table and the JSON line; see the module docstring."""
    runner = _runner()
    args = runner.parse_args()
    if args.worker:
        _warm(runner, args)
        return 0
    if args.quick:
        args.rounds, args.values, args.warmups, args.cold_rounds, args.bulk_messages = (
            1,
            10,
            3,
            1,
            32,
        )
    started, load, sink = (
        time.perf_counter(),
        os.getloadavg()[0],
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    )
    sink.bind(("127.0.0.1", 0))  # the X-Ray daemon's address: segments are sent, then dropped
    save_to, args.output = args.output, None  # pyperf would save each round; we save the suite
    cashouts = 4 * args.rounds * (args.values + args.warmups) + 4 * (args.cold_rounds + 1) + 3100
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir, services(cashouts) as address:
        setup = address | {
            "src": str(args.src.resolve()),
            "workdir": workdir,
            "xray_port": sink.getsockname()[1],
        }
        setup["per_worker"] = args.values + args.warmups
        args.setup = json.dumps(setup)
        sections, figures, per_round, checks, suite = _measure(runner, args, setup)
    if save_to:
        pyperf.BenchmarkSuite(suite).dump(save_to)
    git = subprocess.run(
        ["git", "-C", setup["src"], "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    facts = pyperf.Run([1.0]).get_metadata()  # pyperf's facts about this machine
    result = {
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "git": git.stdout.strip(),
        "src": setup["src"],
        "machine": {
            key: facts.get(key) for key in ("cpu_model_name", "cpu_count", "python_version")
        },
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "elapsed_s": round(time.perf_counter() - started),
        "sections": sections,
        "figures": {name: round(value, 3) for name, value in figures.items()},
        "per_round": per_round,
        "targets": report.targets(figures),
        "checks": checks,
    }
    result["pass"] = all(checks.values()) and all(t["pass"] for t in result["targets"].values())
    print(report.table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if args.strict and not result["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
