"""A cold start: a fresh interpreter that imports what it needs and serves one cancel.

    python -m local.bench.coldstart VARIANT RESULT_FD FIRST_ID WARM

VARIANT is `floor` (import boto3 and requests, make the client, read the secret, send one signed
request), `handler` (import the handler and invoke it once; tracing follows the environment) or
`snapstart` (import and run the before-snapshot hook unclocked, as the snapshot holds it, then
clock the after-restore hook and the first invocation). After the first cancel it serves WARM more
and reports the peak RSS, for the memory figure.

The clock starts once the harness is ready: Python is up and json, os and sys are loaded, as they
are by Lambda's runtime before it imports a handler. It stops when the first answer is back.
"""

import json
import os
import sys
import time

from .lambda_like import (
    LambdaContext,
    RestEvents,
    Unbuffered,
    external_id,
    peak_rss_kb,
    pin_to_cpu,
    request_id,
    trace_header,
)


def _floor(first_id: int, warm: int) -> tuple[float, float]:
    import boto3

    from .floor import Floor

    imported = time.perf_counter()
    client = boto3.client("secretsmanager")
    secret = client.get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
    floor = Floor(os.environ["D24_BASE_URL"], json.loads(secret["SecretString"]))
    floor.cancel(first_id, external_id(first_id))
    served = time.perf_counter()
    for cashout_id in range(first_id + 1, first_id + 1 + warm):
        floor.cancel(cashout_id, external_id(cashout_id))
    return imported, served


def _handler(first_id: int, warm: int, events: RestEvents, snapstart: bool) -> tuple[float, float]:
    from cashout_cancel.handler import lambda_handler

    imported = time.perf_counter()
    if snapstart:
        from cashout_cancel import snapstart as hooks

        hooks.before_snapshot()
        imported = time.perf_counter()  # a restored copy starts here
        hooks.after_restore()
    traced = "_X_AMZN_TRACE_ID" in os.environ

    def invoke(n: int) -> None:
        cashout_id = first_id + n
        if traced and n:
            os.environ["_X_AMZN_TRACE_ID"] = trace_header()  # Lambda sets one per invocation
        event = events.cancel(cashout_id, external_id(cashout_id), n)
        response = lambda_handler(event, LambdaContext(request_id(n)))
        if response["statusCode"] != 200:
            raise RuntimeError(f"the handler did not cancel {cashout_id}: {response['body']}")

    invoke(0)
    served = time.perf_counter()
    for n in range(1, warm + 1):
        invoke(n)
    return imported, served


def main() -> int:
    """Serve the cold start and report its timings (ms) and peak RSS (kB) on the result fd."""
    variant, result_fd, first_id, warm = sys.argv[1], *map(int, sys.argv[2:5])
    sys.stdout = Unbuffered(sys.stdout)
    pin_to_cpu(0)
    events = RestEvents()
    started = time.perf_counter()
    if variant == "floor":
        imported, served = _floor(first_id, warm)
    else:
        imported, served = _handler(first_id, warm, events, snapstart=variant == "snapstart")
    report = {
        "import_ms": (imported - started) * 1000,
        "first_ms": (served - imported) * 1000,
        "total_ms": (served - started) * 1000,
        "peak_rss_kb": peak_rss_kb(),
    }
    with os.fdopen(result_fd, "w") as results:
        results.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
