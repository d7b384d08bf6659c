"""The benchmark's upstreams: the D24 sandbox and moto (Secrets Manager, EventBridge) in a process
of their own, and a loopback X-Ray daemon that counts segments.

The services are kept out of the measured processes so that the servers' work never competes
with the client's for one interpreter lock. The process prints one JSON line with the addresses,
then serves until its stdin closes.

    python -m local.bench.services --cashouts 100000
    python -m local.bench.services --cashouts 3000 --latency 0.1 --results-bus bench-results
"""

from __future__ import annotations

import argparse
import gc
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .cold import pin_to_cpu
from .environment import REPO, external_id

FIRST_CASHOUT_ID = 10_000_001
SECRET_ID = "cashout-cancel/bench"
REGION = "us-east-1"


def main(argv: list[str] | None = None) -> int:
    """Start both services, print their addresses, serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cashouts", type=int, default=100_000, help="pending cashouts to create")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds D24 waits before each answer"
    )
    parser.add_argument("--results-bus", help="an event bus to create, for published results")
    args = parser.parse_args(argv)
    pin_to_cpu(1)  # the measured processes get CPU 0

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    from local.d24_sandbox import D24Sandbox

    d24 = D24Sandbox(seed=False, latency=args.latency).start()
    for cashout_id in range(FIRST_CASHOUT_ID, FIRST_CASHOUT_ID + args.cashouts):
        d24.add_cashout(cashout_id, external_id(cashout_id))
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "secretsmanager",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).create_secret(Name=SECRET_ID, SecretString=json.dumps(d24.credentials))
    if args.results_bus:
        # No rule on it: what the bus does with an event is EventBridge's work, not the function's.
        boto3.client(
            "events",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_event_bus(Name=args.results_bus)
    address = {
        "d24_base_url": d24.base_url,
        "aws_endpoint_url": endpoint,
        "secret_id": SECRET_ID,
        "region": REGION,
        "first_cashout_id": FIRST_CASHOUT_ID,
        "cashouts": args.cashouts,
        "latency": args.latency,
        "results_bus": args.results_bus,
    }
    # The seeded cashouts are long-lived: keep the collector from walking them on every full
    # collection, which would stall an answer now and then and add noise to every variant.
    gc.freeze()
    print(json.dumps(address), flush=True)
    sys.stdin.read()  # the benchmark closes our stdin when it is done
    moto.stop()
    d24.stop()
    return 0


@contextmanager
def services(
    cashouts: int, *, latency: float = 0.0, results_bus: str | None = None
) -> Iterator[dict[str, Any]]:
    """Run the services process: D24 answers after `latency` s; `results_bus` is created."""
    options = ["--cashouts", str(cashouts), "--latency", str(latency)]
    options += ["--results-bus", results_bus] if results_bus else []
    command = [sys.executable, "-m", "local.bench.services", *options]
    with subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdin is not None and process.stdout is not None
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

    def close(self) -> None:
        """Stop counting."""
        self._socket.close()


if __name__ == "__main__":
    raise SystemExit(main())
