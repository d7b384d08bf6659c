"""`make bench` / `python -m local.bench`: the function's warm latency, cold start, memory and bulk
throughput, each against a floor measured in the same run (docs/performance.md).

    python -m local.bench                      # the full run
    python -m local.bench --quick              # a wiring check: tiny counts, noisy numbers
    python -m local.bench --src /tmp/old/src   # another copy of the function's code
    python -m local.bench -o run.json          # also the samples, for `python -m pyperf compare_to`

Prints a table and one JSON line; every target gets PASS or MISS; the exit status is 1 with
`--strict` when a target is missed or the handler's output fails its checks.

pyperf runs the warm variants: a worker process per variant per round, the rounds' variants in
rotating order back to back, so that the machine's drift reaches them alike; its Benchmarks hold
every sample. The cold starts, the memory runs and the bulk run are fresh processes this module
starts itself: each reports its own times on a pipe (pyperf's `bench_command` would charge the
interpreter's teardown, which Lambda never does), and their values become pyperf Benchmarks too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyperf

from ..events import api_rest_event, direct_event
from ..function_env import FUNCTION_ENV
from . import report, warm
from .environment import REPO, external_id, process_environment, trace_header
from .services import XRaySink, services

NAIVE_VALUES, NAIVE_WARMUPS = 5, 3
# Cold variants: name -> (the child's variant in local/bench/cold.py, tracing enabled).
COLD = {
    "floor": ("floor", False),
    "handler": ("handler", False),
    "handler-traced": ("handler", True),
    "snapstart": ("snapstart", False),
}
MEMORY = ("handler", "handler-traced", "floor")
BULK_BATCH_SIZE, BULK_LATENCY, BULK_BUS = 16, 0.100, "cashout-cancel-bench-results"
BULK_CONCURRENCY = int(FUNCTION_ENV["BULK_CONCURRENCY"])


def _runner() -> pyperf.Runner:
    runner = pyperf.Runner(
        values=200,
        warmups=50,
        loops=1,
        processes=1,
        program_args=("-m", "local.bench"),
        add_cmdline_args=_worker_args,
    )
    add = runner.argparser.add_argument
    add("--rounds", type=int, default=20, help="warm rounds: a worker per variant each")
    add("--cold-rounds", type=int, default=20, help="fresh processes per cold variant (0: none)")
    add("--memory-invocations", type=int, default=1000, help="before VmHWM is read (0: none)")
    add("--bulk-messages", type=int, default=2000, help="SQS messages timed (0: no bulk run)")
    add("--bulk-memory-messages", type=int, default=10_000, help="before VmHWM is read")
    add("--src", type=Path, default=Path(REPO, "src"), help="the function's code to measure")
    add("--quick", action="store_true", help="a wiring check: tiny counts, noisy numbers")
    add("--strict", action="store_true", help="exit 1 when a target is missed")
    add("--services", help=argparse.SUPPRESS)  # to the workers: the services' addresses
    add("--workdir", help=argparse.SUPPRESS)  # to the workers: where their output goes
    add("--block", type=int, help=argparse.SUPPRESS)  # to the workers: cashouts per worker
    runner.argparser.set_defaults(affinity="0", quiet=True)  # services run on CPU 1
    return runner


def _worker_args(command: list[str], args: argparse.Namespace) -> None:
    command += ["--rounds", str(args.rounds), "--src", str(args.src)]
    command += ["--services", args.services, "--workdir", args.workdir, "--block", str(args.block)]


def _warm_phase(runner: pyperf.Runner, args: argparse.Namespace) -> dict[str, list[Any]]:
    """Per variant, a pyperf Benchmark per round. In a worker, only its own task runs."""
    values, warmups = args.values, args.warmups
    block = args.block = args.block or values + warmups  # fresh cashouts per worker
    rounds: dict[str, list[Any]] = {variant: [] for variant in warm.VARIANTS}
    first = json.loads(args.services)["first_cashout_id"] if args.services else 0
    for round_ in range(args.rounds):
        shift = round_ % len(warm.VARIANTS)  # no variant always follows the same one
        for variant in warm.VARIANTS[shift:] + warm.VARIANTS[:shift]:
            index = round_ * len(warm.VARIANTS) + warm.VARIANTS.index(variant)
            naive = variant == "naive"
            args.values, args.warmups = (NAIVE_VALUES, NAIVE_WARMUPS) if naive else (values, warmups)
            name = f"warm-{variant}-{round_:02d}"
            time_func = warm.time_function(
                variant,
                json.loads(args.services or "{}"),
                str(args.src),
                first + index * block,
                f"{args.workdir}/{name}",
            )
            try:
                rounds[variant].append(runner.bench_time_func(name, time_func))
            except RuntimeError:  # pyperf: the worker failed; its stderr says why
                sys.stderr.write(Path(f"{args.workdir}/{name}.err").read_text())
                raise
    args.values, args.warmups = values, warmups
    return rounds


def _child(
    command: list[str], env: dict[str, str], lines: list[str], out: Path, timeout: float
) -> dict[str, Any]:
    """Run a fresh process to its end, `lines` on its stdin, its stdout and stderr to files;
    the JSON line it wrote on the pipe whose fd replaces "{fd}" in `command`."""
    read_fd, write_fd = os.pipe()
    try:
        with open(f"{out}.out", "w") as stdout, open(f"{out}.err", "w") as stderr:
            subprocess.run(
                [part.replace("{fd}", str(write_fd)) for part in command],
                cwd=REPO, env=env, input="".join(lines), text=True, stdout=stdout,
                stderr=stderr, pass_fds=(write_fd,), check=True, timeout=timeout,
            )  # fmt: skip
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd) as results:
        found: dict[str, Any] = json.loads(results.readline())
    return found


class Ids:
    """Hands out the services' pending cashouts; each is cancelled once."""

    def __init__(self, first: int) -> None:
        self.next = first

    def take(self, count: int) -> int:
        """The first of `count` unused consecutive cashout ids."""
        self.next += count
        return self.next - count


def _cold(
    variant: str, warm_count: int, ids: Ids, address: dict[str, Any], args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One fresh process of a cold variant: its report and the check of its output."""
    child, tracing = COLD[variant]
    first, lines = ids.take(warm_count + 1), []
    for cashout_id in range(first, first + warm_count + 1):
        ext = external_id(cashout_id)
        event = (
            direct_event(cashout_id, ext)
            if child == "floor"
            else api_rest_event(cashout_id, {"external_id": ext}, request_id=f"api-{cashout_id}")
        )
        lines.append(json.dumps({"event": event, "trace": tracing and trace_header()}) + "\n")
    env = process_environment(address, tracing=tracing, src=str(args.src))
    out = Path(args.workdir) / f"cold-{variant}"
    command = [sys.executable, "-m", "local.bench.cold", child, "{fd}", str(warm_count)]
    found = _child(command, env, lines, out, timeout=300)
    check = {}
    if child != "floor":
        check = report.check_output(Path(f"{out}.out"), Path(f"{out}.err"), traced=tracing)
        check["ok"] = check["result_lines"] == check["emf_lines"] == warm_count + 1 > 0
        check["ok"] = check["ok"] and not check["stderr"]
    return found, check


def _cold_phase(ids: Ids, address: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Per variant: time to first answer (a Benchmark), import and first-call p50s; checks."""
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in COLD}
    checks: dict[str, Any] = {}
    for round_ in range(-1, args.cold_rounds):  # round -1, untimed, warms the page cache
        shift = round_ % len(COLD)
        for variant in [*COLD][shift:] + [*COLD][:shift]:
            load = os.getloadavg()[0]
            found, check = _cold(variant, 0, ids, address, args)
            checks |= {f"cold-{variant}": check} if check else {}
            if round_ >= 0:
                runs[variant].append(found | {"load": load})
    return {"runs": runs, "checks": checks}


def _bulk_run(mode: str, rounds: int, latency: float, args: argparse.Namespace) -> dict[str, Any]:
    """One bulk worker (local/bench/bulk.py) against services of its own; its report."""
    size = BULK_BATCH_SIZE
    cashouts = (rounds + 2) * (2 * size + 1) + 100
    with services(cashouts, latency=latency, results_bus=BULK_BUS) as address:
        env = process_environment(address, tracing=False, src=str(args.src))
        out = Path(args.workdir) / f"bulk-{mode}"
        command = [
            sys.executable, "-m", "local.bench.bulk", mode, "--rounds", str(rounds),
            "--batch-size", str(size), "--concurrency", str(BULK_CONCURRENCY),
            "--first-id", str(address["first_cashout_id"]), "--report-fd", "{fd}",
        ]  # fmt: skip
        found = _child(command, env, [], out, timeout=1800)
    check = report.check_output(Path(f"{out}.out"), Path(f"{out}.err"), traced=False, caller="sqs")
    messages = sum(int(batch[0]) for batch in found["batches"]) + (mode == "throughput") * size
    ok = check["result_lines"] == check["published"] == messages and not check["stderr"]
    found["check"] = check | {"ok": ok and not found["problems"], "problems": found["problems"]}
    return found


def _bulk_phase(args: argparse.Namespace) -> dict[str, Any]:
    """The bulk figures: throughput against the floor and the ideal schedule, CPU, memory."""
    size, latency = BULK_BATCH_SIZE, BULK_LATENCY
    load = os.getloadavg()[0]
    run = _bulk_run("throughput", math.ceil(args.bulk_messages / size), latency, args)
    memory = _bulk_run("memory", math.ceil(args.bulk_memory_messages / size), 0.0, args)
    load_after = os.getloadavg()[0]
    ideal = math.ceil(size / BULK_CONCURRENCY) * latency
    handler_s = [wall for _, wall, _ in run["batches"]]
    floor_s = [cancels + put for _, cancels, put in run["floor"]]

    def figures(name: str, walls: list[float]) -> dict[str, Any]:
        batches = report.per_process(name, walls, [load] * len(walls))
        return {
            "messages": size * len(walls),
            "batch_ms": report.summary(batches, 1e3),
            "messages_per_s": round(size * len(walls) / sum(walls), 1),
            "ratio_to_floor": round(sum(floor_s) / len(floor_s) / (sum(walls) / len(walls)), 3),
            "ratio_to_ideal": round(ideal * len(walls) / sum(walls), 3),
        }

    puts = [put for *_, put in run["floor"]]
    sqs_cpu = sum(cpu for *_, cpu in run["batches"]) * 1000 / (size * len(handler_s))
    direct_cpu = sum(cpu for _, cpu in run["direct"]) * 1000 / len(run["direct"])
    direct = [wall for wall, _ in run["direct"]]
    return {
        "batch_size": size,
        "bulk_concurrency": BULK_CONCURRENCY,
        "latency_ms": latency * 1000,
        "ideal_batch_ms": round(ideal * 1000, 1),
        "handler": figures("bulk-handler", handler_s),
        "floor": figures("bulk-floor", floor_s)
        | {"put_events_ms": report.summary(report.per_process("put", puts, [load] * len(puts)), 1e3)},
        "per_round": report.spread([f / h for f, h in zip(floor_s, handler_s, strict=True)]),
        "direct_ms": report.summary(report.per_process("direct", direct, [load] * len(direct)), 1e3),
        "cpu_ms_per_message": {
            "sqs": round(sqs_cpu, 3),
            "direct": round(direct_cpu, 3),
            "ratio": round(sqs_cpu / direct_cpu, 3),
        },
        "peak_rss_mb": {
            "memory_run": round(memory["peak_rss_kb"] / 1024, 1),
            "memory_messages": sum(int(batch[0]) for batch in memory["batches"]),
            "throughput_run": round(run["peak_rss_kb"] / 1024, 1),
        },
        "load": [round(load, 2), round(load_after, 2)],
        "checks": {"bulk-throughput": run["check"], "bulk-memory": memory["check"]},
    }


def _git_state(src: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(src), "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip()


@contextlib.contextmanager
def _upstreams(cashouts: int) -> Iterator[tuple[dict[str, Any], XRaySink]]:
    sink = XRaySink()
    try:
        with services(cashouts) as address:
            yield address | {"xray_port": sink.port}, sink
    finally:
        sink.close()


def _warm_checks(workdir: str, rounds: int, expected: int) -> dict[str, Any]:
    """The handler variants' output, every worker's file: a result line and EMF per call."""
    checks = {}
    for variant in ("handler", "handler-traced"):
        found = [
            report.check_output(
                Path(f"{workdir}/warm-{variant}-{r:02d}.out"),
                Path(f"{workdir}/warm-{variant}-{r:02d}.err"),
                traced=variant == "handler-traced",
            )
            for r in range(rounds)
        ]
        total = {key: sum(check[key] for check in found) for key in found[0]}
        ok = total["result_lines"] == total["emf_lines"] == rounds * expected and not total["stderr"]
        checks[f"warm-{variant}"] = total | {"ok": ok}
    return checks


def _measure(runner: pyperf.Runner, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; the samples as pyperf Benchmarks and the other figures."""
    per_worker = args.values + args.warmups
    warm_cashouts = len(warm.VARIANTS) * args.rounds * per_worker
    cold_cashouts = (args.cold_rounds + 1) * len(COLD) + len(MEMORY) * (args.memory_invocations + 1)
    with _upstreams(warm_cashouts + cold_cashouts + 100) as (address, sink):
        args.services = json.dumps(address)
        print(f"warm: {args.rounds} rounds ...", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(sys.stderr):  # pyperf's lines are progress here
            rounds = _warm_phase(runner, args)
        checks = _warm_checks(args.workdir, args.rounds, per_worker)
        ids = Ids(address["first_cashout_id"] + warm_cashouts)
        print(f"cold: {args.cold_rounds} rounds; memory ...", file=sys.stderr, flush=True)
        cold = _cold_phase(ids, address, args) if args.cold_rounds > 0 else {"runs": {}}
        checks |= cold.get("checks", {})
        rss_mb = {}
        for variant in MEMORY if args.memory_invocations > 0 else ():
            found, check = _cold(variant, args.memory_invocations, ids, address, args)
            rss_mb[variant.replace("-", "_")] = round(found["peak_rss_kb"] / 1024, 1)
            checks |= {f"memory-{variant}": check} if check else {}
        xray_segments = sink.received
    print(f"bulk: {args.bulk_messages} messages ...", file=sys.stderr, flush=True)
    bulk = _bulk_phase(args) if args.bulk_messages > 0 else {}
    checks |= bulk.pop("checks", {})
    return {
        "rounds": rounds,
        "cold_runs": cold["runs"],
        "rss_mb": rss_mb,
        "bulk": bulk,
        "checks": checks,
        "xray": xray_segments,
    }


def _result(measured: dict[str, Any], args: argparse.Namespace) -> tuple[dict[str, Any], list[Any]]:
    """The JSON line's content, and the pyperf Benchmarks to save."""
    rounds, cold_runs = measured["rounds"], measured["cold_runs"]
    warm_benches = {v: report.merged(f"warm {v}", rounds[v]) for v in warm.VARIANTS}
    warm_us = {v.replace("-", "_"): report.summary(b, 1e6) for v, b in warm_benches.items()}
    cold_ms, cold_benches = {}, []
    for variant, runs in cold_runs.items():
        loads = [run["load"] for run in runs]
        bench = report.per_process(f"cold {variant}", [r["total_ms"] / 1e3 for r in runs], loads)
        parts = {
            part: report.per_process(part, [r[f"{part}_ms"] / 1e3 for r in runs], loads).median()
            for part in ("import", "first")
        }
        cold_ms[variant.replace("-", "_")] = report.summary(bench, 1e3) | {
            "import_p50": round(parts["import"] * 1e3, 1),
            "first_p50": round(parts["first"] * 1e3, 1),
        }
        cold_benches.append(bench)
    cold_pairs = zip(cold_runs.get("handler", []), cold_runs.get("floor", []), strict=True)
    floor, handler, traced = warm_us["floor"], warm_us["handler"], warm_us["handler_traced"]
    nan = {"p50": math.nan}
    ratios = {
        "warm_p50": report.ratio(handler["p50"], floor["p50"]),
        "warm_p99": report.ratio(handler["p99"], floor["p99"]),
        "naive_speedup": report.ratio(warm_us["naive"]["p50"], handler["p50"]),
        "warm_traced_p50": report.ratio(traced["p50"], floor["p50"]),
        "cold": report.ratio(cold_ms.get("handler", nan)["p50"], cold_ms.get("floor", nan)["p50"]),
        "cold_traced": report.ratio(
            cold_ms.get("handler_traced", nan)["p50"], cold_ms.get("floor", nan)["p50"]
        ),
        "tracing_cold_extra_ms": cold_ms.get("handler_traced", nan)["p50"]
        - cold_ms.get("handler", nan)["p50"],
        "tracing_warm_extra_us": traced["p50"] - handler["p50"],
    }
    bulk = measured["bulk"]
    result: dict[str, Any] = {
        "bench": "cashout-cancel",
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "machine": {
            key: pyperf.Run([1.0]).get_metadata().get(key)
            for key in ("cpu_model_name", "cpu_count", "python_version", "platform")
        },
        "config": {
            key: getattr(args, key)
            for key in (
                "rounds", "values", "warmups", "cold_rounds", "memory_invocations",
                "bulk_messages", "bulk_memory_messages",
            )
        }  # fmt: skip
        | {"naive_values": NAIVE_VALUES, "src": str(args.src), "git": _git_state(args.src)},
        "warm_us": warm_us,
        "cold_ms": cold_ms,
        "peak_rss_mb": measured["rss_mb"],
        "bulk": bulk,
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
        "per_round": {
            "warm_p50": report.spread(
                [
                    h.median() / f.median()
                    for h, f in zip(rounds["handler"], rounds["floor"], strict=True)
                ]
            ),
            "cold": report.spread([h["total_ms"] / f["total_ms"] for h, f in cold_pairs]),
            "bulk": bulk.pop("per_round", {}),
        },
        "load": {
            "warm": report.loads(rounds["floor"] + rounds["handler"]),
            "cold": report.loads(cold_benches),
            "bulk": bulk.pop("load", []),
        },
        "xray_segments_received": measured["xray"],
        "checks": measured["checks"],
    }
    result["targets"] = report.targets(result)
    result["checks_pass"] = all(check["ok"] for check in result["checks"].values())
    result["checks_pass"] = result["checks_pass"] and measured["xray"] > 0
    result["pass"] = result["checks_pass"] and all(t["pass"] for t in result["targets"].values())
    return result, [*warm_benches.values(), *cold_benches]


def main() -> int:
    """Run everything, print the table and the JSON line; see the module docstring."""
    runner = _runner()
    args = runner.parse_args()
    if args.worker:
        _warm_phase(runner, args)
        return 0
    if args.quick:
        args.rounds, args.values, args.warmups, args.cold_rounds = 1, 10, 3, 1
        args.memory_invocations, args.bulk_messages, args.bulk_memory_messages = 10, 32, 64
    args.src, started = args.src.resolve(), time.perf_counter()
    save_to, args.output = args.output, None  # pyperf would save each round; we save a suite
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        args.workdir = workdir
        measured = _measure(runner, args)
    result, benchmarks = _result(measured, args)
    result["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    if save_to:
        pyperf.BenchmarkSuite(benchmarks).dump(save_to)
    print(report.table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if args.strict and not result["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
