"""The benchmark's processes: the services, the warm workers, the cold-start children, and the
X-Ray sink; plus the check that the handler really wrote what CONTRACT section 7 asks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
def services(cashouts: int) -> Iterator[dict[str, Any]]:
    """The D24 sandbox and Secrets Manager in their own process (local/bench/services.py)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.bench.services", "--cashouts", str(cashouts)],
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
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-m", "local.bench.coldstart", self.variant, str(write_fd)]
        with open(self.stdout, "w") as stdout, open(self.stderr, "w") as stderr:
            subprocess.run(
                [*command, str(first_id), str(warm)],
                cwd=REPO,
                env=self._env,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(write_fd,),
                check=True,
                timeout=120,
            )
        os.close(write_fd)
        with os.fdopen(read_fd) as results:
            report: dict[str, float] = json.loads(results.readline())
        self.invocations = warm + 1
        return report

    def check(self, *, traced: bool) -> dict[str, Any]:
        """`check_output` of what this process wrote."""
        return check_output(self.stdout, self.stderr, traced=traced, expected=self.invocations)


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
