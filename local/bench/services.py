"""The benchmark's upstreams in a process of their own, so that their work never competes with
the measured process for one interpreter lock: the D24 sandbox with pending cashouts, and moto
with the secret and a results bus. And the function's environment (template.yaml) pointing at them.

    python -m local.bench.services CASHOUTS LATENCY   # prints its addresses, serves until EOF
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..function_env import FUNCTION_ENV
from ..lambda_context import LambdaContext

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRST_ID, SECRET_ID, REGION, BUS = 10_000_001, "cashout-cancel/bench", "us-east-1", "bench-results"


def external_id(cashout_id: int) -> str:
    """The external id of the benchmark's pending cashout `cashout_id`."""
    return f"bench-{cashout_id}"


def trace_header() -> str:
    """A sampled `_X_AMZN_TRACE_ID`, new per invocation as Lambda sets it."""
    bits = random.getrandbits(160)
    return f"Root=1-{int(time.time()):08x}-{bits >> 64:024x};Parent={bits % 2**64:016x};Sampled=1"


def environment(setup: dict[str, Any], *, tracing: bool = False, fresh: bool = False) -> Any:
    """The function's variables pointing at the services (tracing off as a deployment sets it);
    `fresh`: a new process's whole environment, this one's without AWS or Lambda variables."""
    skip = ("AWS_", "POWERTOOLS_", "D24_", "_X_AMZN", "LAMBDA_")
    env = {key: value for key, value in os.environ.items() if fresh and not key.startswith(skip)}
    env |= {"PYTHONPATH": os.pathsep.join([setup["src"], REPO])} if fresh else {}
    env |= FUNCTION_ENV | {"LAMBDA_TASK_ROOT": setup["src"], "RESULTS_EVENT_BUS": BUS}
    env |= {"AWS_LAMBDA_FUNCTION_NAME": LambdaContext.function_name, "AWS_REGION": REGION}
    env |= {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(LambdaContext.memory_limit_in_mb)}
    env |= {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    env |= {"AWS_ENDPOINT_URL": setup["aws_endpoint_url"], "AWS_DEFAULT_REGION": REGION}
    env |= {"D24_SECRET_ID": SECRET_ID, "D24_BASE_URL": setup["d24_base_url"]}
    env |= {"POWERTOOLS_METRICS_NAMESPACE": "CashoutCancel", "POWERTOOLS_LOG_LEVEL": "INFO"}
    if not tracing:
        return env | {"POWERTOOLS_TRACE_DISABLED": "true"}
    daemon = f"127.0.0.1:{setup['xray_port']}"
    return env | {"AWS_XRAY_DAEMON_ADDRESS": daemon, "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"}


def main() -> int:
    """Start the services with CASHOUTS pending cashouts, D24 answering after LATENCY s."""
    cashouts, latency = int(sys.argv[1]), float(sys.argv[2])
    os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})  # the measured processes use CPU 0
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from local.d24_sandbox import D24Sandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    d24 = D24Sandbox(seed=False, latency=latency).start()
    for cashout_id in range(FIRST_ID, FIRST_ID + cashouts):
        d24.add_cashout(cashout_id, external_id(cashout_id))
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = "http://{}:{}".format(*moto.get_host_and_port())
    aws = {"region_name": REGION, "endpoint_url": endpoint, "aws_access_key_id": "bench"}
    aws["aws_secret_access_key"] = "bench"
    secret = json.dumps(d24.credentials)
    boto3.client("secretsmanager", **aws).create_secret(Name=SECRET_ID, SecretString=secret)
    boto3.client("events", **aws).create_event_bus(Name=BUS)  # no rule: routing is not ours
    gc.freeze()  # the cashouts live as long as the process: full collections skip them
    address = {"d24_base_url": d24.base_url, "aws_endpoint_url": endpoint}
    print(json.dumps(address | {"first_id": FIRST_ID}), flush=True)
    sys.stdin.read()
    moto.stop()
    d24.stop()
    return 0


@contextmanager
def services(cashouts: int, latency: float = 0.0) -> Iterator[dict[str, Any]]:
    """The services process while the block runs; its addresses."""
    command = [sys.executable, "-m", "local.bench.services", str(cashouts), str(latency)]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, cwd=REPO, stdin=pipe, stdout=pipe, text=True) as process:
        try:
            yield json.loads(process.stdout.readline())  # type: ignore[union-attr]
        finally:
            process.stdin.close()  # type: ignore[union-attr]


if __name__ == "__main__":
    raise SystemExit(main())
