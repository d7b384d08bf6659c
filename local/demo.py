"""The function end to end on this machine: no AWS account, no Docker.

    python -m local.demo                         # make demo: every event in events/, a table
    python -m local.demo events/direct-cancel.json   # make invoke: one event, its full response
    python -m local.demo --verbose               # also the function's INFO logs and EMF metrics

A D24 sandbox (local/d24_sandbox.py) and a Secrets Manager (moto) start in-process on loopback
sockets, the secret is created with the sandbox's credentials, and each event goes through the
real `lambda_handler`. Every event names one cashout and every cashout appears in at most one
event that changes it, so each row is the same whether the event runs alone or in the sequence.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cashout_cancel.d24.answers import CASHOUT_STATUS_NAMES
from local.bulk_demo.run import (
    DEFAULT_CASHOUTS,
    FUNCTION_TIMEOUT,
    MAXIMUM_CONCURRENCY,
    BulkRun,
    print_bulk,
    run_bulk,
)
from local.d24_sandbox import D24Sandbox
from local.lambda_context import LambdaContext
from local.secrets_extension import VARIABLES as EXTENSION_VARIABLES
from local.secrets_extension import SecretsExtension
from local.sqs_event_source import Environment

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
SECRET_ID = "cashout-cancel/d24"
RESULTS_BUS = "cashout-cancel-results"  # where EventBridge and SQS results are published
REGION = "us-east-1"
STATUS_NAMES = CASHOUT_STATUS_NAMES  # D24's status codes, as the contract spells them
ABSENT = "-"  # D24 has no such cashout (or the event names none)

if TYPE_CHECKING:
    from local.lambda_artifact import RuntimeHandler

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Expected:
    """What an event's name promises: the answer, and D24's status of its cashout around it."""

    status_code: int
    outcome: str
    before: str
    after: str
    sends: bool = True  # False: refused before anything leaves the function


# The order the demo runs in: cancels, then D24's other answers, then what is refused up front.
EXPECTED: dict[str, Expected] = {
    "api-rest-cancel.json": Expected(200, "CANCELLED", "Pending", "Cancelled"),
    "api-http-cancel-base64.json": Expected(200, "CANCELLED", "Pending", "Cancelled"),
    "api-rest-proxy-catch-all.json": Expected(200, "CANCELLED", "Pending", "Cancelled"),
    "eventbridge-cancel.json": Expected(200, "CANCELLED", "Pending", "Cancelled"),
    "direct-cancel.json": Expected(200, "CANCELLED", "Pending", "Cancelled"),
    "eventbridge-on-hold-cancel.json": Expected(200, "CANCELLED", "On hold", "Cancelled"),
    "api-http-already-cancelled.json": Expected(200, "ALREADY_CANCELLED", "Cancelled", "Cancelled"),
    "api-rest-not-found.json": Expected(404, "NOT_FOUND", ABSENT, ABSENT),
    "api-rest-not-cancellable.json": Expected(409, "NOT_CANCELLABLE", "Completed", "Completed"),
    "direct-not-cancellable-rejected.json": Expected(
        409, "NOT_CANCELLABLE", "Rejected", "Rejected"
    ),
    "api-rest-invalid-external-id.json": Expected(
        400, "INVALID_REQUEST", "Delivered", "Delivered", sends=False
    ),
    "api-rest-invalid-cashout-id.json": Expected(400, "INVALID_REQUEST", ABSENT, ABSENT, False),
    "api-rest-wrong-method.json": Expected(
        405, "METHOD_NOT_ALLOWED", "Delivered", "Delivered", sends=False
    ),
    "api-rest-unknown-route.json": Expected(404, "ROUTE_NOT_FOUND", ABSENT, ABSENT, sends=False),
    "eventbridge-other-detail-type.json": Expected(
        400, "INVALID_REQUEST", "Delivered", "Delivered", sends=False
    ),
    "eventbridge-invalid-detail.json": Expected(400, "INVALID_REQUEST", ABSENT, ABSENT, False),
    "direct-invalid.json": Expected(400, "INVALID_REQUEST", ABSENT, ABSENT, sends=False),
    # Cancels for a second merchant account (CONTRACT section 11). The demo serves the default
    # account only (no D24_MERCHANT_SECRET_PREFIX), so naming one is refused up front, for now.
    "api-rest-cancel-merchant.json": Expected(400, "INVALID_REQUEST", ABSENT, ABSENT, False),
    "direct-cancel-merchant.json": Expected(400, "INVALID_REQUEST", ABSENT, ABSENT, False),
    # A bulk batch: two cancels, one already cancelled, one not cancellable, one unknown cashout
    # (all done, their results published) and one invalid message handed back for the DLQ.
    "sqs-bulk-cancel.json": Expected(0, "1 of 6 to redeliver", ABSENT, ABSENT),
}


@dataclass
class Row:
    """What one event did."""

    file: str
    caller: str
    status_code: int
    outcome: str
    result: dict[str, Any]
    response: Any
    before: str
    after: str
    d24_calls: int
    raised: Exception | None = None
    metrics: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """How this row differs from what its file name promises (empty: as expected)."""
        expected = EXPECTED.get(self.file)
        if expected is None:
            return ["no expected outcome recorded in local/demo.py EXPECTED"]
        found = []
        got = (self.status_code, self.outcome, self.before, self.after)
        want = (expected.status_code, expected.outcome, expected.before, expected.after)
        if got != want:
            found.append(f"got {_describe(*got)}, expected {_describe(*want)}")
        if expected.sends != (self.d24_calls > 0):
            found.append(
                f"made {self.d24_calls} D24 calls, expected {'some' if expected.sends else 'none'}"
            )
        if self.raised is not None and not _is_retry(self.raised):
            found.append(f"raised {type(self.raised).__name__}: {self.raised}")
        return found


def _describe(status_code: int, outcome: str, before: str, after: str) -> str:
    return f"{status_code} {outcome} ({before} -> {after})"


def _is_retry(exc: Exception) -> bool:
    from cashout_cancel.callers.eventbridge import RetryableFailure

    # Through the runtime, the raise comes back as the error Lambda reports (errorType).
    reported = getattr(exc, "error_type", None)
    return isinstance(exc, RetryableFailure) or reported == RetryableFailure.__name__


# Environment


@contextlib.contextmanager
def local_secrets_manager() -> Iterator[str]:
    """A Secrets Manager on a loopback port; yields its endpoint URL.

    moto's ThreadedMotoServer rather than `mock_aws()`: the function's own boto3 client then
    signs real requests and sends them over a socket to the endpoint that AWS_ENDPOINT_URL names,
    exactly the path it takes in Lambda; `mock_aws()` would patch botocore inside this process.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def local_client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the local AWS at `endpoint`, with dummy credentials that
    can reach no real account."""
    import boto3

    make: Any = boto3.client  # the stubs type only literal service names
    return make(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def configure_environment(sandbox: D24Sandbox, endpoint: str, verbose: bool) -> None:
    """The function's environment, as template.yaml sets it, pointed at the local services."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "D24_SECRET_ID": SECRET_ID,
            "RESULTS_EVENT_BUS": RESULTS_BUS,
            "D24_BASE_URL": sandbox.base_url,
            "D24_TIMEOUT_SECONDS": "5",
            "POWERTOOLS_SERVICE_NAME": "cashout-cancel",
            "POWERTOOLS_METRICS_NAMESPACE": "CashoutCancelDemo",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else "WARNING",
            # Dummy credentials, and no ~/.aws files: nothing here can reach a real account.
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


def create_secret(credentials: dict[str, str]) -> None:
    """The D24 secret, shaped as CONTRACT section 3 says, holding the sandbox's credentials."""
    import boto3

    client = boto3.client("secretsmanager")
    try:
        client.create_secret(Name=SECRET_ID, SecretString=json.dumps(credentials))
    except client.exceptions.ResourceExistsException:
        # moto keeps one store per process: a second demo run in it finds the first one's.
        client.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(credentials))


def create_results_bus() -> None:
    """The bus the function publishes the results of asynchronous cancels on (section 10)."""
    import boto3

    client = boto3.client("events")
    # moto keeps one store per process: a second demo run in it finds the first one's bus.
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_event_bus(Name=RESULTS_BUS)


@contextlib.contextmanager
def local_function(
    verbose: bool = False, runtime: str = "in-process", build_dir: Path | None = None
) -> Iterator[tuple[D24Sandbox, Handler]]:
    """The sandbox and the real handler, configured against it and the local Secrets Manager.

    runtime "lambda": the handler is the built artifact (`make lambda-build`, in `build_dir`) in
    its own process under awslambdaric, through the local Runtime API (local/lambda_runtime.py).
    """
    with (
        D24Sandbox() as sandbox,
        local_secrets_manager() as endpoint,
        SecretsExtension(local_client("secretsmanager", endpoint)) as extension,
    ):
        configure_environment(sandbox, endpoint, verbose)
        os.environ.update(extension.environment)  # the function reads its secret through it
        create_secret(sandbox.credentials)
        create_results_bus()
        if runtime == "lambda":
            with artifact_handler(sandbox, endpoint, verbose, build_dir) as handler:
                yield sandbox, handler
            return
        from cashout_cancel.handler import lambda_handler  # after the environment is set

        yield sandbox, lambda_handler


@contextlib.contextmanager
def artifact_handler(
    sandbox: D24Sandbox, endpoint: str, verbose: bool, build_dir: Path | None
) -> Iterator[RuntimeHandler]:
    """The built artifact under awslambdaric, configured as configure_environment configures
    this process; its output goes to stderr with --verbose."""
    from local.lambda_artifact import (
        DEFAULT_BUILD_DIR,
        RuntimeHandler,
        function_config,
        function_environment,
    )
    from local.lambda_environment import LocalLambda

    environment = function_environment(
        d24_base_url=sandbox.base_url,
        secret_id=SECRET_ID,
        aws_endpoint_url=endpoint,
        results_event_bus=RESULTS_BUS,
        log_level=os.environ["POWERTOOLS_LOG_LEVEL"],
    )
    environment.update({name: os.environ[name] for name in EXTENSION_VARIABLES})
    config = function_config(build_dir or DEFAULT_BUILD_DIR, environment=environment)
    with LocalLambda(config, log=sys.stderr if verbose else None) as function:
        yield RuntimeHandler(function)


@contextlib.contextmanager
def bulk_environments(
    handler: Handler, sandbox: D24Sandbox, verbose: bool, build_dir: Path | None
) -> Iterator[tuple[list[Environment], str]]:
    """The execution environments the local SQS event source invokes, and what they are.

    In-process there is one, this process: Lambda never runs two invocations in one environment
    at once (Powertools' metrics and the runtime's caches are per process). Through the runtime
    there are MaximumConcurrency of them: the demo's runtime process and as many more, each
    through its init before the queue is worked (environments.initialised says why).
    """
    from local.bulk_demo.environments import in_process, initialised, through_runtime

    function = getattr(handler, "function", None)  # a RuntimeHandler's LocalLambda
    if function is None:
        yield [in_process(handler, FUNCTION_TIMEOUT)], "1 execution environment: this process"
        return
    with contextlib.ExitStack() as stack:
        functions = [initialised(function)]  # one quick invocation when the table warmed it
        endpoint = os.environ["AWS_ENDPOINT_URL"]
        for _ in range(MAXIMUM_CONCURRENCY - 1):
            more = stack.enter_context(artifact_handler(sandbox, endpoint, verbose, build_dir))
            functions.append(initialised(more.function))
        described = f"{len(functions)} execution environments: runtime processes of the artifact"
        yield [through_runtime(f, FUNCTION_TIMEOUT) for f in functions], described


# Running events


def caller_of(event: Any) -> str:
    """api-rest, api-http, eventbridge or direct, from the keys each source sends."""
    if isinstance(event, dict):
        if "detail-type" in event and "detail" in event:
            return "eventbridge"
        if "Records" in event:
            return "sqs"
        if "requestContext" in event:
            return "api-http" if event.get("version") == "2.0" else "api-rest"
    return "direct"


def requested_cashout_id(event: Any, caller: str) -> int | None:
    """The cashout an event names, read leniently, so that D24's status can be shown around it."""
    if not isinstance(event, dict):
        return None
    if caller.startswith("api-"):
        path = event.get("rawPath") or event.get("path") or ""
        parts = path.strip("/").split("/")
        value: Any = parts[-2] if len(parts) >= 3 and parts[-1] == "cancel" else None
    elif caller == "eventbridge":
        detail = event.get("detail")
        value = detail.get("cashout_id") if isinstance(detail, dict) else None
    else:
        value = event.get("cashout_id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else None


def status_name(sandbox: D24Sandbox, cashout_id: int | None) -> str:
    """The cashout's status in D24 by name, or '-' when D24 has no such cashout."""
    code = None if cashout_id is None else sandbox.status_of(cashout_id)
    return ABSENT if code is None else STATUS_NAMES.get(code, str(code))


def run_event(handler: Handler, sandbox: D24Sandbox, path: Path, verbose: bool) -> Row:
    """One event through the handler, with D24's state and request count around it."""
    event = json.loads(path.read_text(encoding="utf-8"))
    caller = caller_of(event)
    cashout_id = requested_cashout_id(event, caller)
    before, calls_before = status_name(sandbox, cashout_id), len(sandbox.received())
    # Powertools Metrics prints one EMF document per invocation to stdout, where Lambda turns it
    # into CloudWatch metrics. The metrics code runs unchanged; the demo only catches that
    # output so the table stays readable (--verbose prints it). Logs are not caught: the Logger
    # holds the real stdout from import time on.
    captured = io.StringIO()
    response: Any = None
    raised: Exception | None = None
    with contextlib.redirect_stdout(captured):
        try:
            response = handler(event, LambdaContext())
        except Exception as exc:  # shown in the table; EventBridge raises >= 500 by design
            raised = exc
    metrics = [line for line in captured.getvalue().splitlines() if line.strip()]
    if verbose:
        for line in metrics:
            print(line)
    status_code, result = _read(response, raised)
    if caller == "sqs" and "batchItemFailures" in result:
        failures, records = len(result["batchItemFailures"]), len(event["Records"])
        result["outcome"] = f"{failures} of {records} to redeliver"
    return Row(
        file=path.name,
        caller=caller,
        status_code=status_code,
        outcome=str(result.get("outcome", "?")),
        result=result,
        response=response,
        before=before,
        after=status_name(sandbox, cashout_id),
        d24_calls=len(sandbox.received()) - calls_before,
        raised=raised,
        metrics=metrics,
    )


def _read(response: Any, raised: Exception | None) -> tuple[int, dict[str, Any]]:
    """The statusCode and result fields, from a proxy response, a result object or a raise."""
    if raised is not None:
        status_code = getattr(raised, "status_code", 0)
        return status_code, {"outcome": getattr(raised, "outcome", type(raised).__name__)}
    if isinstance(response, dict) and "headers" in response and isinstance(response["body"], str):
        return int(response["statusCode"]), json.loads(response["body"])
    if isinstance(response, dict) and "batchItemFailures" in response:
        return 0, dict(response)  # a bulk batch: no one statusCode (run_event counts it)
    if isinstance(response, dict):
        return int(response.get("statusCode", 0)), response
    return 0, {"outcome": repr(response)}


# Output

COLUMNS = ("event", "caller", "status", "outcome", "cashout", "D24 before -> after", "D24 calls")


def table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table."""
    cells = [COLUMNS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cells(row: Row) -> tuple[str, ...]:
    outcome = row.outcome
    if row.raised is not None:
        outcome += ", raised (retry)" if _is_retry(row.raised) else ", RAISED"
    cashout = row.result.get("cashout_id")
    return (
        row.file,
        row.caller,
        str(row.status_code),
        outcome,
        ABSENT if cashout is None else str(cashout),
        f"{row.before} -> {row.after}",
        str(row.d24_calls),
    )


def event_paths(explicit: str | None) -> list[Path]:
    """The one event asked for, or every event in the order EXPECTED defines, then the rest."""
    if explicit is not None:
        path = Path(explicit)
        if not path.exists() and (EVENTS_DIR / path.name).exists():
            path = EVENTS_DIR / path.name
        return [path]
    present = {path.name: path for path in EVENTS_DIR.glob("*.json")}
    ordered = [present.pop(name) for name in EXPECTED if name in present]
    return ordered + [present[name] for name in sorted(present)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; 0 when every event behaved as its name promises."""
    parser = argparse.ArgumentParser(
        prog="python -m local.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("event", nargs="?", help="run just this event file and show its response")
    parser.add_argument("--verbose", action="store_true", help="show INFO logs and EMF metrics")
    parser.add_argument(
        "--runtime",
        choices=("in-process", "lambda"),
        default="in-process",
        help="lambda: through the built artifact under awslambdaric (make lambda-build first)",
    )
    parser.add_argument("--build-dir", type=Path, help="the local build (default: make's)")
    parser.add_argument(
        "--no-bulk", action="store_true", help="skip the bulk run through the queue after the table"
    )
    parser.add_argument(
        "--bulk-cashouts",
        type=int,
        default=DEFAULT_CASHOUTS,
        help=f"cashouts in the bulk run (default {DEFAULT_CASHOUTS}, at least 20)",
    )
    args = parser.parse_args(argv)
    paths = event_paths(args.event)
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        print(f"no such event file: {', '.join(missing)}", file=sys.stderr)
        return 2

    bulk: BulkRun | None = None
    with local_function(args.verbose, args.runtime, args.build_dir) as (sandbox, handler):
        rows = [run_event(handler, sandbox, path, args.verbose) for path in paths]
        answered_by = _answered_by(handler)
        if args.event is None and not args.no_bulk:
            with bulk_environments(handler, sandbox, args.verbose, args.build_dir) as found:
                environments, described = found
                bulk = run_bulk(
                    sandbox,
                    environments,
                    described=described,
                    results_bus=RESULTS_BUS,
                    cashouts=args.bulk_cashouts,
                )

    print(table(rows))
    if answered_by:
        print(f"\n{answered_by}")
    if args.event is not None:
        _print_details(rows[0])
        if rows[0].file not in EXPECTED:
            print(f"\n{rows[0].file}: no expected outcome recorded; nothing to compare.")
            return 0
    status = _summary(rows, check_all=args.event is None, verbose=args.verbose)
    if bulk is not None:
        print_bulk(bulk, sys.stdout)
        status = status or (0 if bulk.passed else 1)
    return status


def _answered_by(handler: Handler) -> str:
    function = getattr(handler, "function", None)  # a RuntimeHandler's LocalLambda
    if function is None:
        return ""
    config = function.config
    return (
        f"answered by the built artifact {config.task_root} ({config.handler}, "
        f"timeout {config.timeout_seconds:g} s) under awslambdaric on {config.python}, "
        f"{function.processes_started} runtime process(es)"
    )


def _print_details(row: Row) -> None:
    print("\nresponse:")
    if row.raised is not None:
        print(f"  raised {type(row.raised).__name__}: {row.raised}")
    else:
        print(json.dumps(row.response, indent=2))
        if row.caller.startswith("api-"):
            print("\nbody:")
            print(json.dumps(row.result, indent=2))
    if row.metrics:
        print("\nmetrics (EMF, printed to stdout as in Lambda):")
        print("\n".join(row.metrics))


def _summary(rows: Sequence[Row], check_all: bool, verbose: bool) -> int:
    mismatches = [f"{row.file}: {problem}" for row in rows for problem in row.problems()]
    if check_all:
        ran = {row.file for row in rows}
        mismatches += [f"{name}: missing from events/" for name in EXPECTED if name not in ran]
    documents = sum(len(row.metrics) for row in rows)  # none through the runtime: its stdout
    if check_all and not verbose and documents:
        print(f"\n{documents} EMF metric documents caught from stdout (--verbose shows them).")
    else:
        print()
    if mismatches:
        print(f"{len(rows)} events, {len(mismatches)} not as expected:")
        print("\n".join(f"  {line}" for line in mismatches))
        return 1
    print(f"{len(rows)} events, all as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
