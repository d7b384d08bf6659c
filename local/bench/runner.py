"""The benchmark's processes: the services, the warm workers, the cold-start children, and the
X-Ray sink; plus the check that the handler really wrote what CONTRACT section 7 asks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from .lambda_like import REPO


class Ids:
    """Hands out the services' fresh pending cashouts; each is cancelled exactly once."""

    def __init__(self, first: int, count: int) -> None:
        self._next, self._end = first, first + count

    def take(self, count: int) -> int:
        """The first of `count` consecutive unused cashout ids."""
        first = self._next
        self._next += count
        if self._next > self._end:
            raise RuntimeError("the benchmark ran out of pending cashouts")
        return first


@contextmanager
def services(
    cashouts: int, *, latency: float = 0.0, results_bus: str | None = None
) -> Iterator[dict[str, Any]]:
    """The D24 sandbox and Secrets Manager in their own process (local/bench/services.py); D24
    answers after `latency` seconds; `results_bus` is created on the same endpoint."""
    options = ["--cashouts", str(cashouts), "--latency", str(latency)]
    options += ["--results-bus", results_bus] if results_bus else []
    process = subprocess.Popen(
        [sys.executable, "-m", "local.bench.services", *options],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark's services did not start")
        yield json.loads(line)
    finally:
        process.stdin.close()
        process.wait(timeout=30)


class XRaySink:
    """A UDP socket on loopback where the X-Ray SDK sends its segments: counted, then dropped."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.received = 0
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                self._socket.recv(65536)
            except OSError:
                return
            self.received += 1

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._socket.close()


class Worker:
    """One warm variant in its own process (local/bench/warm.py), answering `run` commands."""

    def __init__(self, variant: str, env: dict[str, str], workdir: Path) -> None:
        self.variant = variant
        self.check_file = workdir / f"warm-{variant}.out"
        self.stderr_file = workdir / f"warm-{variant}.err"
        read_fd, write_fd = os.pipe()
        with open(self.stderr_file, "w") as stderr:
            self._process = subprocess.Popen(
                [
                    sys.executable, "-m", "local.bench.warm", variant,
                    "--result-fd", str(write_fd), "--check-file", str(self.check_file),
                ],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(write_fd,),
                text=True,
            )  # fmt: skip
        os.close(write_fd)
        self._results: IO[str] = os.fdopen(read_fd)

    def run(self, first_id: int, count: int) -> list[int]:
        """Cancel `count` cashouts from `first_id` on; the nanoseconds each invocation took."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"run {first_id} {count}\n")
        self._process.stdin.flush()
        line = self._results.readline()
        if not line:
            raise RuntimeError(f"the {self.variant} worker died: {self.stderr_file.read_text()}")
        samples: list[int] = json.loads(line)
        return samples

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        self._results.close()


class ColdRun:
    """One fresh process (local/bench/coldstart.py); its stdout and stderr are kept to check."""

    def __init__(self, variant: str, env: dict[str, str], out: Path) -> None:
        self.variant, self._env = variant, env
        self.stdout, self.stderr = out.with_suffix(".out"), out.with_suffix(".err")
        self.invocations = 0

    def serve(self, first_id: int, warm: int) -> dict[str, float]:
        """Its cold start and `warm` more cancels: timings (ms) and peak RSS (kB)."""

        def command(fd: int) -> list[str]:
            coldstart = [sys.executable, "-m", "local.bench.coldstart", self.variant]
            return [*coldstart, str(fd), str(first_id), str(warm)]

        report: dict[str, float] = _report_of(
            command,
            self._env,
            stdout=self.stdout,
            stderr=self.stderr,
            timeout=120,
        )
        self.invocations = warm + 1
        return report

    def check(self, *, traced: bool) -> dict[str, Any]:
        """`check_output` of what this process wrote."""
        return check_output(self.stdout, self.stderr, traced=traced, expected=self.invocations)


def _report_of(
    command: Callable[[int], list[str]],
    env: dict[str, str],
    *,
    stdout: Path | None,
    stderr: Path,
    timeout: float,
) -> dict[str, Any]:
    """Run one worker to its end; the JSON line it wrote to the pipe whose fd `command` takes.

    Its stdout and stderr go to the files given (stdout None: the worker's own).
    """
    read_fd, write_fd = os.pipe()
    try:
        with ExitStack() as files:
            out = files.enter_context(open(stdout, "w")) if stdout is not None else None
            err = files.enter_context(open(stderr, "w"))
            subprocess.run(
                command(write_fd),
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=err,
                pass_fds=(write_fd,),
                check=True,
                timeout=timeout,
            )
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd) as results:
        report: dict[str, Any] = json.loads(results.readline())
    return report


class BulkRun:
    """One fresh bulk worker (local/bench/bulk.py); its warm-up output and stderr are kept."""

    def __init__(self, mode: str, env: dict[str, str], out: Path) -> None:
        self.mode, self._env = mode, env
        self.stdout, self.stderr = out.with_suffix(".out"), out.with_suffix(".err")

    def serve(
        self, first_id: int, rounds: int, batch_size: int, direct: int = 0, concurrency: int = 8
    ) -> dict[str, Any]:
        """Run the worker; its report (per batch and per direct invoke: wall and CPU seconds)."""

        def command(fd: int) -> list[str]:
            return [
                sys.executable, "-m", "local.bench.bulk", self.mode,
                "--rounds", str(rounds), "--batch-size", str(batch_size), "--direct", str(direct),
                "--concurrency", str(concurrency),
                "--first-id", str(first_id), "--result-fd", str(fd),
                "--check-file", str(self.stdout),
            ]  # fmt: skip

        # The worker writes its own stdout to the check file (the warm-up's lines, then none).
        return _report_of(
            command,
            self._env,
            stdout=None,
            stderr=self.stderr,
            timeout=900,
        )

    def check(self, batch_size: int) -> dict[str, Any]:
        """The warm-up batch wrote a result line per message (caller sqs), and its EMF counts
        them all published; nothing on stderr."""
        lines = [_json_object(line) for line in self.stdout.read_text().splitlines()]
        results = sum(
            line.get("message") == "cancel finished" and line.get("caller") == "sqs"
            for line in lines
        )
        published = sum(sum(line.get("ResultsPublished") or []) for line in lines)
        errors = sum(1 for line in self.stderr.read_text().splitlines() if line.strip())
        ok = results == published == batch_size and errors == 0
        return {"result_lines": results, "published": published, "stderr_lines": errors, "ok": ok}


def _json_object(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def check_output(
    stdout: Path, stderr: Path, *, traced: bool, expected: int | None = None
) -> dict[str, Any]:
    """Count the result lines (correlation id, cashout_id, outcome; the trace id when traced) and
    the EMF blobs (the outcome metric and UpstreamLatency) the handler wrote, and stderr lines."""
    results = emf = 0
    for line in stdout.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("message") == "cancel finished":
            keys = ["correlation_id", "cashout_id", "outcome", *(["xray_trace_id"] * traced)]
            results += all(record.get(key) for key in keys)
        elif "_aws" in record:
            metrics = record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            emf += {"CANCELLED", "UpstreamLatency"} <= {metric["Name"] for metric in metrics}
    errors = sum(1 for line in stderr.read_text().splitlines() if line.strip())
    if expected is None:
        expected = results
    ok = results == emf == expected > 0 and errors == 0
    return {"result_lines": results, "emf_lines": emf, "stderr_lines": errors, "ok": ok}
