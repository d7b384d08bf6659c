"""`make bench`: warm latency, cold start, memory and bulk throughput against floors measured in
the same run (docs/performance.md). pyperf runs the warm variants: a worker per variant per round,
each round's variants back to back in rotating order, so that drift reaches them alike. Cold
starts, memory and bulk runs are fresh processes (local/bench/fresh.py) that time themselves:
pyperf's `bench_command` would charge the interpreter's teardown, which Lambda never does."""

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

from ..function_env import FUNCTION_ENV
from . import fresh, report
from .fresh import BATCH_SIZE
from .report import check_output
from .services import REPO, environment, invocation, services

WARM = ("floor", "handler", "handler-traced", "naive")
# handler: its secret through the SDK; extension: through the secrets extension (template.yaml).
COLD = ("floor", "handler", "handler-traced", "extension", "extension-traced", "snapstart")
LATENCY = 0.100  # seconds D24 takes to answer in the bulk run
CONCURRENCY = int(FUNCTION_ENV["BULK_CONCURRENCY"])


def _timer(variant: str, setup: dict[str, Any], first_id: int, out: str) -> Any:
    """pyperf's time function: `loops` cancels' seconds; the first call sets up as Lambda would."""
    serve: list[Any] = []
    ids = iter(range(first_id, sys.maxsize))

    def time_cancels(loops: int) -> float:
        if not serve:
            os.environ.update(environment(setup, tracing=variant == "handler-traced"))
            sys.path.insert(0, setup["src"])
            for fd, path in ((1, f"{out}.out"), (2, f"{out}.err")):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # as Lambda
            serve.append(fresh.VARIANTS[variant.removesuffix("-traced")]())
        return float(sum(serve[0](invocation(variant, next(ids)))[0] for _ in range(loops)))

    return time_cancels


def _warm(runner: pyperf.Runner, args: Any, setup: dict[str, Any]) -> dict[str, list[Any]]:
    """A pyperf Benchmark per variant per round; in a worker, only the worker's own task runs."""
    fast, rounds = {"values": args.values, "warmups": args.warmups}, {v: list[Any]() for v in WARM}
    ids = setup["ids"]
    for round_, index in ((r, (r + k) % 4) for r in range(args.rounds) for k in range(4)):
        variant, name = WARM[index], f"warm-{WARM[index]}-{round_}"
        vars(args).update({"values": 5, "warmups": 3} if variant == "naive" else fast)
        out, first = f"{setup['dir']}/{name}", setup["first_id"] + (round_ * 4 + index) * ids
        try:
            rounds[variant].append(runner.bench_time_func(name, _timer(variant, setup, first, out)))
        except RuntimeError:  # the worker failed: its stderr says why
            sys.exit(Path(f"{out}.err").read_text() or "a pyperf worker failed")
        if variant.startswith("handler") and not args.worker:
            args.checks[name] = check_output(out, ids, variant == "handler-traced")
    return rounds


def _fresh(argv: list[str], setup: Any, out: str, lines: str = "", traced: bool = False) -> Any:
    """Run local/bench/fresh.py, its output to `out`.out/.err: its report, and the load then."""
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-m", "local.bench.fresh", *argv, str(write_fd)]
    env, load = environment(setup, tracing=traced, fresh=True), os.getloadavg()[0]
    with open(f"{out}.out", "w") as stdout, open(f"{out}.err", "w") as stderr:
        options = {"cwd": REPO, "env": env, "stdout": stdout, "stderr": stderr, "text": True}
        try:
            subprocess.run(command, input=lines, pass_fds=(write_fd,), check=True, **options)
        finally:
            os.close(write_fd)
    with os.fdopen(read_fd) as found:
        return json.load(found) | {"load": load}


def _cold(args: Any, setup: dict[str, Any], first: int) -> dict[str, list[Any]]:
    """Cold starts in rotating order (the first round warms the page cache), then memory runs."""
    runs: dict[str, list[Any]] = {variant: [] for variant in COLD}
    n = len(COLD)
    order = [(v, 0) for r in range(args.cold_rounds + 1) for v in (COLD * 2)[r % n :][:n]]
    memory = 10 if args.quick else 1000
    order += [(variant, memory) for variant in ("handler", "handler-traced", "floor")]
    for n, (variant, count) in enumerate(order):
        cashouts = range(first, first + count + 1)
        lines = "".join(json.dumps(invocation(variant, i)) + "\n" for i in cashouts)
        out, first, traced = f"{setup['dir']}/{n}-{variant}", first + count + 1, "-t" in variant
        extended = setup | {"extension": variant.startswith("extension")}
        found = _fresh(["handler" if extended["extension"] else variant.removesuffix("-traced"),
                        str(count)], extended, out, lines, traced)  # fmt: skip
        args.checks[Path(out).name] = variant == "floor" or check_output(out, count + 1, traced)
        if n >= len(COLD) or count:  # the first round only warmed the page cache
            runs.setdefault(f"{variant} after {count} warm" if count else variant, []).append(found)
    return runs


def _bulk(args: Any, setup: dict[str, Any], rounds: int, latency: float, *floor: str) -> Any:
    """A bulk run (local/bench/fresh.py) on services of its own, its output checked."""
    argv, out = ["bulk", str(rounds)], f"{setup['dir']}/bulk{''.join(floor)}"
    with services((rounds + 1) * (2 * BATCH_SIZE + 1), latency) as address:
        found = _fresh([*argv, str(address["first_id"]), *floor], setup | address, out)
    args.checks[Path(out).name] = check_output(out, (rounds + 1) * BATCH_SIZE, caller="sqs")
    return (found,)


def _result(args: Any, rounds: dict[str, Any], cold: dict[str, Any], bulk: Any) -> dict[str, Any]:
    """The sections of the table, the figures, each ratio's spread round by round, the suite."""
    suite = [report.merged(f"warm {v}", rounds[v]) for v in WARM]
    for variant in COLD:
        parts = ["first_ms"] if variant == "snapstart" else ["import_ms", "first_ms"]  # restored
        runs = [[sum(run[part] for part in parts) / 1e3] for run in cold[variant]]
        suite.append(report.benchmark(f"cold {variant}", runs, [r["load"] for r in cold[variant]]))
    w = report.rows(dict(zip(WARM, suite[:4], strict=True)), 1e6)
    c = report.rows(dict(zip(COLD, suite[4:], strict=True)), 1e3)
    for variant, row in c.items():
        row["imports"] = statistics.median(run["import_ms"] for run in cold[variant])
        row["1st call"] = statistics.median(run["first_ms"] for run in cold[variant])
    rss = {key: runs[0]["rss_kb"] / 1024 for key, runs in cold.items() if " after " in key}
    figures = {"warm_p50": w["handler"]["p50/floor"], "warm_p99": w["handler"]["p99/floor"]}
    figures["naive_speedup"] = w["naive"]["p50"] / w["handler"]["p50"]
    figures["warm_traced_p50"] = w["handler-traced"]["p50/floor"]
    figures["tracing_warm_extra_us"] = w["handler-traced"]["p50"] - w["handler"]["p50"]
    figures |= {"cold": c["handler"]["p50/floor"], "cold_traced": c["handler-traced"]["p50/floor"]}
    figures["cold_extension"] = c["extension"]["p50/floor"]
    figures["cold_extension_traced"] = c["extension-traced"]["p50/floor"]
    figures["tracing_cold_extra_ms"] = c["handler-traced"]["p50"] - c["handler"]["p50"]
    figures["peak_rss_mb"] = max(list(rss.values())[:2])
    pairs = zip(rounds["handler"], rounds["floor"], strict=True)
    per_round = {"warm_p50": report.spread([h.median() / f.median() for h, f in pairs], suite[:4])}
    pairs = zip(suite[5].get_values(), suite[4].get_values(), strict=True)  # handler, floor
    per_round["cold"] = report.spread([h / f for h, f in pairs], suite[4:])
    sections = {"Warm: one cancel per invocation, us": w, "Cold start to the first answer, ms": c}
    if bulk:
        run, memory = bulk
        walls = {
            "floor: B cancels on C sessions, 1 PutEvents": [sum(took) for took in run["floor"]],
            "handler: SQS batch, results published": [took[0] for took in run["sqs"]],
            "direct invoke": [took[0] for took in run["direct"]],
            "the floor's PutEvents (10 entries)": [took[1] for took in run["floor"]],
        }
        loads = run["loads"]
        benches = {k: report.benchmark(k, [[x] for x in v], loads) for k, v in walls.items()}
        title = f"Bulk: batches of {BATCH_SIZE}, D24 answering in 100 ms; ms"
        sections[title] = report.rows(benches, 1e3)
        floor_s, handler_s = (statistics.mean(w) for w in list(walls.values())[:2])
        cpu, direct = (statistics.mean(t[1] for t in run[k]) for k in ("sqs", "direct"))
        figures |= {"bulk_throughput": floor_s / handler_s, "bulk_cpu": cpu / BATCH_SIZE / direct}
        figures["bulk_ideal"] = -(-BATCH_SIZE // CONCURRENCY) * LATENCY / handler_s
        figures["bulk_msgs_per_s"] = BATCH_SIZE / handler_s
        figures["bulk_cpu_ms"] = cpu / BATCH_SIZE * 1e3
        figures |= {"direct_cpu_ms": direct * 1e3, "bulk_peak_rss_mb": memory["rss_kb"] / 1024}
        messages = (len(memory["sqs"]) + 1) * BATCH_SIZE
        rss[f"bulk after {messages} messages"] = memory["rss_kb"] / 1024
        rss["bulk after the throughput run"] = run["rss_kb"] / 1024
        ratios = [f / h for f, h in zip(*list(walls.values())[:2], strict=True)]
        per_round["bulk_throughput"] = report.spread(ratios, benches.values())
    sections["Peak RSS (VmHWM) of a fresh process, MB"] = {k: {"MB": mb} for k, mb in rss.items()}
    figures = {name: round(value, 3) for name, value in figures.items()}
    return {"sections": sections, "figures": figures, "per_round": per_round, "suite": suite}


def main() -> int:
    """Run everything, print the table and the JSON line; see the module docstring."""

    def tell(command: list[str], args: Any) -> None:  # what a worker is told
        command += ["--rounds", str(args.rounds), "--setup", args.setup]

    options = {"values": 200, "warmups": 50, "loops": 1, "processes": 1, "add_cmdline_args": tell}
    runner = pyperf.Runner(**options, program_args=("-m", "local.bench"))
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
    args.checks, bulk = {}, ()
    if args.worker:
        return bool(_warm(runner, args, json.loads(args.setup))) - 1
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
        if args.bulk_messages:
            memory_rounds = 10 if args.quick else 10_000 // BATCH_SIZE - 1  # and the warm-up's 16
            bulk = _bulk(args, setup, -(-args.bulk_messages // BATCH_SIZE), LATENCY, "--floor")
            bulk += _bulk(args, setup, memory_rounds, 0.0)
    result = _result(args, rounds, cold, bulk)
    if save_to:
        pyperf.BenchmarkSuite(result["suite"]).dump(save_to)
    del result["suite"]
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
        "targets": report.targets(result["figures"]),
        "checks": args.checks,
    }
    passed = [target["pass"] for target in result["targets"].values()]
    result["pass"] = all(args.checks.values()) and all(passed)
    print(report.table(result))
    print(json.dumps(result, separators=(",", ":")))
    return 1 if args.strict and not result["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
