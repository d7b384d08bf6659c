"""`make bench` / `python -m local.bench [--quick] [--strict] [--src DIR] [-o FILE]`: warm latency,
cold start, memory and bulk throughput, each against a floor measured in the same run.

`--quick` checks the wiring; `--src` measures another copy of the function's code; `-o` saves the
samples for `python -m pyperf compare_to`; `--strict` exits 1 when a target is missed or the
handler's output fails its check. pyperf runs the warm variants, a worker per variant per round,
each round's variants back to back in rotating order so that drift reaches them alike. The cold
starts, memory and bulk runs are fresh processes (local/bench/fresh.py) that time themselves:
pyperf's `bench_command` would charge the interpreter's teardown, which Lambda never does.
"""

from __future__ import annotations

import contextlib
import datetime
import json
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
from ..function_env import FUNCTION_ENV
from . import report, warm
from .fresh import BATCH_SIZE
from .services import REPO, environment, external_id, services, trace_header

TRACED = {"floor": False, "handler": False, "handler-traced": True, "snapstart": False}  # cold
LATENCY = 0.100  # seconds D24 takes to answer in the bulk run
CONCURRENCY = int(FUNCTION_ENV["BULK_CONCURRENCY"])


def _setup(command: list[str], args: Any) -> None:
    command += ["--rounds", str(args.rounds), "--setup", args.setup]


def _warm(runner: pyperf.Runner, args: Any, setup: dict[str, Any]) -> Any:
    """A pyperf Benchmark per variant per round; in a worker, only the worker's own task runs."""
    fast, rounds = {"values": args.values, "warmups": args.warmups}, {v: [] for v in warm.VARIANTS}
    for round_, index in ((r, (r + k) % 4) for r in range(args.rounds) for k in range(4)):
        variant, name = warm.VARIANTS[index], f"warm-{warm.VARIANTS[index]}-{round_}"
        vars(args).update({"values": 5, "warmups": 3} if variant == "naive" else fast)
        out = f"{setup['dir']}/{name}"
        first = setup["first_id"] + (round_ * 4 + index) * setup["ids"]
        time_func = warm.time_function(variant, setup, first, out)
        try:
            rounds[variant].append(runner.bench_time_func(name, time_func))
        except RuntimeError:  # the worker failed: its stderr says why
            sys.exit(Path(f"{out}.err").read_text() or "a pyperf worker failed")
        if variant.startswith("handler") and not args.worker:
            args.checks[name] = report.check_output(out, setup["ids"], traced=variant.endswith("d"))
    vars(args).update(fast)
    return rounds


def _fresh(
    arguments: list[str], setup: dict[str, Any], out: str, lines: str = "", traced: bool = False
) -> Any:
    """`python -m local.bench.fresh *arguments REPORT_FD` to its end, `lines` on its stdin, its
    output to `out`.out and .err: the JSON it wrote on REPORT_FD, and the load it started at."""
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-m", "local.bench.fresh", *arguments, str(write_fd)]
    env, load = environment(setup, tracing=traced, fresh=True), os.getloadavg()[0]
    with open(f"{out}.out", "w") as stdout, open(f"{out}.err", "w") as stderr:
        options = {"cwd": REPO, "env": env, "stdout": stdout, "stderr": stderr, "text": True}
        try:
            subprocess.run(command, input=lines, pass_fds=(write_fd,), check=True, **options)
        finally:
            os.close(write_fd)
    with os.fdopen(read_fd) as found:
        return json.load(found) | {"load": load}


def _cold(args: Any, setup: dict[str, Any], first: int) -> Any:
    """Cold starts in rotating order (the first round, untimed, warms the page cache), then the
    memory runs (a cold start and `memory` warm invocations): their reports per variant."""
    runs: dict[str, list[Any]] = {variant: [] for variant in TRACED}
    order = [(v, 0) for r in range(args.cold_rounds + 1) for v in ([*TRACED] * 2)[r % 4 :][:4]]
    memory = 10 if args.quick else 1000
    order += [(variant, memory) for variant in ("handler", "handler-traced", "floor")]
    for number, (variant, count) in enumerate(order):
        lines = []
        for cashout_id in range(first, first + count + 1):
            ext, event = external_id(cashout_id), direct_event(cashout_id, external_id(cashout_id))
            if variant != "floor":
                event = api_rest_event(cashout_id, {"external_id": ext}, request_id=f"api-{ext}")
            lines.append(json.dumps({"event": event, "trace": TRACED[variant] and trace_header()}))
        out, first = f"{setup['dir']}/{variant}-{count}", first + count + 1
        child = variant.removesuffix("-traced")
        found = _fresh([child, str(count)], setup, out, "\n".join(lines) + "\n", TRACED[variant])
        ok = variant == "floor" or report.check_output(out, count + 1, traced=TRACED[variant])
        args.checks[f"{variant}-{count}"] = args.checks.get(f"{variant}-{count}", True) and ok
        if number >= 4 or count:  # the first round only warmed the page cache
            runs.setdefault(f"{variant} after {count} warm" if count else variant, []).append(found)
    return runs


def _bulk(setup: dict[str, Any], rounds: int, latency: float = 0.0, *floor: str) -> Any:
    """A bulk run (local/bench/fresh.py) against services of its own, its output checked."""
    with services((rounds + 1) * (2 * BATCH_SIZE + 1), latency) as address:
        arguments = ["bulk", str(rounds), str(address["first_id"]), *floor]
        found = _fresh(arguments, setup | address, out := f"{setup['dir']}/bulk{floor}")
    ok = report.check_output(out, (rounds + 1) * BATCH_SIZE, caller="sqs")
    return found | {"ok": ok}


def _result(args: Any, rounds: dict[str, Any], cold: dict[str, Any], bulk: Any) -> dict[str, Any]:
    """The sections of the table, the figures and their spread round by round."""
    warm_benches = {v: report.merged(f"warm {v}", found) for v, found in rounds.items()}
    cold_benches = {
        variant: report.benchmark(
            f"cold {variant}", [[r["total_ms"] / 1e3] for r in runs], [r["load"] for r in runs]
        )
        for variant, runs in cold.items()
        if variant in TRACED
    }
    w, c = report.rows(warm_benches, 1e6), report.rows(cold_benches, 1e3)
    for variant, row in c.items():
        row["imports"] = statistics.median(run["import_ms"] for run in cold[variant])
        row["1st call"] = statistics.median(run["first_ms"] for run in cold[variant])
    rss = {key: runs[0]["rss_kb"] / 1024 for key, runs in cold.items() if " after " in key}
    figures = {"warm_p50": w["handler"]["p50/floor"], "warm_p99": w["handler"]["p99/floor"]}
    figures["naive_speedup"] = w["naive"]["p50"] / w["handler"]["p50"]
    figures["warm_traced_p50"] = w["handler-traced"]["p50/floor"]
    figures["tracing_warm_extra_us"] = w["handler-traced"]["p50"] - w["handler"]["p50"]
    figures["cold"] = c["handler"]["p50/floor"]
    figures["cold_traced"] = c["handler-traced"]["p50/floor"]
    figures["tracing_cold_extra_ms"] = c["handler-traced"]["p50"] - c["handler"]["p50"]
    figures["peak_rss_mb"] = max(list(rss.values())[:2])
    pairs = zip(rounds["handler"], rounds["floor"], strict=True)
    per_round = {
        "warm_p50": report.spread(
            [h.median() / f.median() for h, f in pairs], warm_benches.values()
        )
    }
    pairs = zip(cold["handler"], cold["floor"], strict=True)
    per_round["cold"] = report.spread(
        [h["total_ms"] / f["total_ms"] for h, f in pairs], cold_benches.values()
    )
    sections = {"Warm: one cancel per invocation, us": w}
    sections["Cold start to the first answer, ms (SnapStart: after_restore and 1st call)"] = c
    if bulk:
        run, memory = bulk
        walls = {
            "floor: B cancels on C sessions, 1 PutEvents": [sum(took) for took in run["floor"]],
            "handler: SQS batch, results published": [took[0] for took in run["sqs"]],
            "direct invoke": [took[0] for took in run["direct"]],
            "the floor's PutEvents (10 entries)": [took[1] for took in run["floor"]],
        }
        benches = {k: report.benchmark(k, [[w] for w in v], run["loads"]) for k, v in walls.items()}
        title = f"Bulk: batches of {BATCH_SIZE}, D24 answering in {LATENCY * 1e3:.0f} ms; ms"
        sections[title] = report.rows(benches, 1e3)
        floor_s, handler_s = (statistics.mean(w) for w in list(walls.values())[:2])
        cpu, direct = (statistics.mean(t[1] for t in run[k]) for k in ("sqs", "direct"))
        figures |= {"bulk_throughput": floor_s / handler_s, "bulk_cpu": cpu / BATCH_SIZE / direct}
        figures["bulk_ideal"] = -(-BATCH_SIZE // CONCURRENCY) * LATENCY / handler_s
        figures |= {
            "bulk_msgs_per_s": BATCH_SIZE / handler_s,
            "bulk_cpu_ms": cpu / BATCH_SIZE * 1e3,
        }
        figures |= {"direct_cpu_ms": direct * 1e3, "bulk_peak_rss_mb": memory["rss_kb"] / 1024}
        rss[f"bulk after {(len(memory['sqs']) + 1) * BATCH_SIZE} messages"] = (
            memory["rss_kb"] / 1024
        )
        rss["bulk after the throughput run"] = run["rss_kb"] / 1024
        pairs = zip(*list(walls.values())[:2], strict=True)
        per_round["bulk_throughput"] = report.spread([f / h for f, h in pairs], benches.values())
        args.checks |= {"bulk": run["ok"], "bulk-memory": memory["ok"]}
    sections["Peak RSS (VmHWM) of a fresh process, MB"] = {k: {"MB": mb} for k, mb in rss.items()}
    figures = {name: round(value, 3) for name, value in figures.items()}
    suite = [*warm_benches.values(), *cold_benches.values()]
    return {"sections": sections, "figures": figures, "per_round": per_round, "suite": suite}


def main() -> int:
    """Run everything, print the table and the JSON line; see the module docstring."""
    runner = pyperf.Runner(values=200, warmups=50, loops=1, processes=1, add_cmdline_args=_setup,
                           program_args=("-m", "local.bench"))  # fmt: skip
    add = runner.argparser.add_argument
    add("--rounds", type=int, default=20, help="warm rounds: a worker per variant each")
    add("--cold-rounds", type=int, default=20, help="fresh processes per cold variant")
    add("--bulk-messages", type=int, default=2000, help="SQS messages timed (0: no bulk run)")
    add("--src", type=Path, default=Path(REPO, "src"), help="the function's code to measure")
    add("--quick", action="store_true", help="a wiring check: tiny counts, noisy numbers")
    add("--strict", action="store_true", help="exit 1 when a target is missed")
    add("--setup", default="{}", help="(for the workers: the services, code and files)")
    runner.argparser.set_defaults(affinity="0", quiet=True)  # the services run on CPU 1
    args = runner.parse_args()
    args.checks, setup = {}, json.loads(args.setup)
    if args.worker:
        _warm(runner, args, setup)
        return 0
    if args.quick:
        args.rounds, args.values, args.warmups, args.cold_rounds = 1, 10, 3, 1
        args.bulk_messages = min(args.bulk_messages, 32)
    started, load, save_to, args.output = time.perf_counter(), os.getloadavg()[0], args.output, None
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # X-Ray's daemon: segments dropped
    sink.bind(("127.0.0.1", 0))
    src, ids = str(args.src.resolve()), args.values + args.warmups
    cashouts = 4 * args.rounds * ids + 4 * args.cold_rounds + 3100
    with tempfile.TemporaryDirectory() as workdir, services(cashouts) as address:
        setup = address | {"src": src, "dir": workdir, "xray_port": sink.getsockname()[1]}
        args.setup = json.dumps(setup | {"ids": ids})
        with contextlib.redirect_stdout(sys.stderr):  # pyperf's lines are progress
            rounds = _warm(runner, args, json.loads(args.setup))
        cold = _cold(args, setup, address["first_id"] + 4 * args.rounds * ids)
        bulk_rounds, memory_rounds = -(-args.bulk_messages // BATCH_SIZE), 10 if args.quick else 624
        if bulk_rounds:
            bulk = _bulk(setup, bulk_rounds, LATENCY, "--floor"), _bulk(setup, memory_rounds)
    result = _result(args, rounds, cold, bulk if bulk_rounds else ())
    if save_to:
        pyperf.BenchmarkSuite(result["suite"]).dump(save_to)
    facts, git = pyperf.Run([1.0]).get_metadata(), ["git", "-C", src, "describe", "--dirty"]
    result |= {
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "git": subprocess.run(
            [*git, "--always"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "src": src,
        "machine": {k: facts.get(k) for k in ("cpu_model_name", "cpu_count", "python_version")},
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "elapsed_s": round(time.perf_counter() - started),
        "targets": report.targets(result.pop("suite") and result["figures"]),
        "checks": args.checks,
    }
    result["pass"] = all(args.checks.values()) and all(
        t["pass"] for t in result["targets"].values()
    )
    print(report.table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if args.strict and not result["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
