"""The upstreams, in a process that never competes with the measured one for its interpreter
lock: D24's sandbox, moto (the secret, a results bus); and the function's environment for them."""

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
from ..secrets_extension import TOKEN

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRST_ID, SECRET_ID, REGION, BUS = 10_000_001, "cashout-cancel/bench", "us-east-1", "bench-results"


def invocation(variant: str, cashout_id: int) -> dict[str, Any]:
    """What Lambda hands `variant` for cashout `cashout_id` (local/events.py), and a trace id."""
    from local.events import api_rest_event, direct_event

    ext, bits = f"bench-{cashout_id}", random.getrandbits(160)
    trace = f"Root=1-{int(time.time()):08x}-{bits >> 64:024x};Parent={bits % 2**64:016x};Sampled=1"
    if variant == "floor":
        return {"event": direct_event(cashout_id, ext)}
    event = api_rest_event(cashout_id, {"external_id": ext}, request_id=f"api-{ext}")
    return {"event": event, "trace": variant.endswith("traced") and trace}


def environment(setup: dict[str, Any], *, tracing: bool = False, fresh: bool = False) -> Any:
    """The function's variables (template.yaml) for the services; `fresh`: a whole environment;
    `setup["extension"]`: the secrets extension's stand-in beside the function."""
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
    if setup.get("extension"):
        env |= {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(setup["extension_port"])}
        env |= {"AWS_SESSION_TOKEN": TOKEN}
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
    from local.secrets_extension import SecretsExtension

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    d24 = D24Sandbox(seed=False, latency=latency).start()
    for cashout_id in range(FIRST_ID, FIRST_ID + cashouts):
        d24.add_cashout(cashout_id, f"bench-{cashout_id}")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    endpoint = "http://{}:{}".format(*moto.get_host_and_port())
    aws: dict[str, Any] = {
        "region_name": REGION,
        "endpoint_url": endpoint,
        "aws_access_key_id": "bench",
    }
    aws["aws_secret_access_key"] = "bench"
    secret, secrets = json.dumps(d24.credentials), boto3.client("secretsmanager", **aws)
    secrets.create_secret(Name=SECRET_ID, SecretString=secret)
    # The extension as a cold container meets it: nothing cached, a read goes to Secrets Manager.
    extension = SecretsExtension(secrets, ttl=0).__enter__()
    boto3.client("events", **aws).create_event_bus(Name=BUS)  # no rule: routing is not ours
    gc.freeze()  # the cashouts live as long as the process: full collections skip them
    address: dict[str, Any] = {"d24_base_url": d24.base_url, "aws_endpoint_url": endpoint}
    address["extension_port"] = extension.environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]
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
