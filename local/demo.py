"""`make demo`: every event in events/ through the local function (local/function.py), as a
table, then a bulk cancel through a local queue (local/bulk_demo.py); `make invoke EVENT=<file>`
runs one and shows its full response. Each cashout is changed by at most one event, so a row is
the same alone or in the sequence.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import bulk_demo
from local.d24_sandbox import SEED_CASHOUTS, STATUS_DESCRIPTIONS
from local.events import EVENTS_DIR, event_files
from local.function import (
    SECOND_ACCOUNT,
    SECOND_ACCOUNT_CASHOUTS,
    LocalFunction,
    local_function,
    runtime_arguments,
)
from local.lambda_context import LambdaContext

ABSENT = "-"  # D24 has no such cashout, or the answer names none
# Answers that refuse an event before anything is sent to D24.
REFUSED_UP_FRONT = {"INVALID_REQUEST", "METHOD_NOT_ALLOWED", "ROUTE_NOT_FOUND", "UNKNOWN_MERCHANT"}

# What each event's name promises, in the order the demo runs them: status code, outcome, and
# D24's status of the cashout the answer names, before and after.
EXPECTED: dict[str, tuple[int, str, str, str]] = {
    "api-rest-cancel.json": (200, "CANCELLED", "Pending", "Canceled"),
    "api-http-cancel-base64.json": (200, "CANCELLED", "Pending", "Canceled"),
    "api-rest-proxy-catch-all.json": (200, "CANCELLED", "Pending", "Canceled"),
    "eventbridge-cancel.json": (200, "CANCELLED", "Pending", "Canceled"),
    "direct-cancel.json": (200, "CANCELLED", "Pending", "Canceled"),
    # A second merchant account's cashouts, and an account the deployment has no secret for.
    "api-rest-cancel-merchant.json": (200, "CANCELLED", "Pending", "Canceled"),
    "direct-cancel-merchant.json": (200, "CANCELLED", "Pending", "Canceled"),
    "direct-cancel-unknown-merchant.json": (404, "UNKNOWN_MERCHANT", ABSENT, ABSENT),
    "eventbridge-on-hold-cancel.json": (200, "CANCELLED", "On hold", "Canceled"),
    "api-http-already-cancelled.json": (200, "ALREADY_CANCELLED", "Canceled", "Canceled"),
    "api-rest-not-found.json": (404, "NOT_FOUND", ABSENT, ABSENT),
    "api-rest-not-cancellable.json": (409, "NOT_CANCELLABLE", "Completed", "Completed"),
    "direct-not-cancellable-rejected.json": (409, "NOT_CANCELLABLE", "Rejected", "Rejected"),
    "api-rest-invalid-external-id.json": (400, "INVALID_REQUEST", "Delivered", "Delivered"),
    "api-rest-invalid-cashout-id.json": (400, "INVALID_REQUEST", ABSENT, ABSENT),
    "api-rest-wrong-method.json": (405, "METHOD_NOT_ALLOWED", "Delivered", "Delivered"),
    "api-rest-unknown-route.json": (404, "ROUTE_NOT_FOUND", ABSENT, ABSENT),
    "eventbridge-other-detail-type.json": (400, "INVALID_REQUEST", ABSENT, ABSENT),
    "eventbridge-invalid-detail.json": (400, "INVALID_REQUEST", ABSENT, ABSENT),
    "direct-invalid.json": (400, "INVALID_REQUEST", ABSENT, ABSENT),
    # A bulk batch: two cancels, one already cancelled, one not cancellable, one unknown cashout
    # (all done, their results published) and one invalid message handed back for the DLQ.
    "sqs-bulk-cancel.json": (0, "1 of 6 to redeliver", ABSENT, ABSENT),
}


@dataclass
class Row:
    """What one event did; `d24_calls` counts the requests D24 received meanwhile."""

    file: str
    caller: str
    status_code: int
    outcome: str
    cashout: str
    before: str
    after: str
    d24_calls: int
    response: Any = None
    raised: Exception | None = None
    metrics: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """How this row differs from what its file name promises (empty: as expected)."""
        if self.file not in EXPECTED:
            return ["no expected outcome recorded in local/demo.py EXPECTED"]
        want = EXPECTED[self.file]
        got = (self.status_code, self.outcome, self.before, self.after)
        found = [] if got == want else [f"got {_describe(got)}, expected {_describe(want)}"]
        if (want[1] not in REFUSED_UP_FRONT) != (self.d24_calls > 0):
            found.append(f"made {self.d24_calls} D24 calls")
        if self.raised is not None and not _is_retry(self.raised):
            found.append(f"raised {type(self.raised).__name__}: {self.raised}")
        return found


def _describe(row: tuple[int, str, str, str]) -> str:
    return f"{row[0]} {row[1]} ({row[2]} -> {row[3]})"


def _is_retry(exc: Exception) -> bool:
    # EventBridge's raise for a retry; through the runtime, the error Lambda reports.
    return "RetryableFailure" in (type(exc).__name__, getattr(exc, "error_type", None))


def run_event(function: LocalFunction, path: Path, verbose: bool = False) -> Row:
    """One event through the handler, with D24's state and request count around it."""
    from cashout_cancel.callers import recognise

    event = json.loads(path.read_text(encoding="utf-8"))
    sandbox = function.sandbox
    before, calls_before = _states(sandbox), len(sandbox.received())
    # Powertools prints each invocation's EMF document to stdout: caught, for a readable table.
    captured = io.StringIO()
    response: Any = None
    raised: Exception | None = None
    with contextlib.redirect_stdout(captured):
        try:
            response = function.handler(event, LambdaContext())
        except Exception as exc:  # shown in the table; EventBridge raises >= 500 by design
            raised = exc
    metrics = [line for line in captured.getvalue().splitlines() if line.strip()]
    if verbose:
        print("\n".join(metrics))
    result = _result(response, raised)
    if "batchItemFailures" in result:
        failures, records = len(result["batchItemFailures"]), len(event["Records"])
        result["outcome"] = f"{failures} of {records} to redeliver"
    merchant, cashout_id = result.get("merchant"), result.get("cashout_id")
    key = (merchant if isinstance(merchant, str) else None, int(cashout_id or 0))
    cashout = str(cashout_id) if key[0] is None else f"{cashout_id} ({merchant})"
    return Row(
        file=path.name,
        caller=recognise(event).name,
        status_code=int(result.get("statusCode") or 0),
        outcome=str(result.get("outcome", "?")),
        cashout=ABSENT if cashout_id is None else cashout,
        before=_status_name(before.get(key)),
        after=_status_name(_states(sandbox).get(key)),
        d24_calls=len(sandbox.received()) - calls_before,
        response=response,
        raised=raised,
        metrics=metrics,
    )


def _result(response: Any, raised: Exception | None) -> dict[str, Any]:
    """The result an answer (a proxy response's body) or an EventBridge raise carries."""
    if raised is not None:
        outcome = getattr(raised, "outcome", type(raised).__name__)
        return {"statusCode": getattr(raised, "status_code", 0), "outcome": outcome}
    if isinstance(response, dict) and isinstance(response.get("body"), str):
        return {"statusCode": response["statusCode"], **json.loads(response["body"])}
    return dict(response) if isinstance(response, dict) else {"outcome": repr(response)}


def _states(sandbox: Any) -> dict[tuple[str | None, int], int | None]:
    """D24's status of every cashout the sample events name, by (account, cashout id)."""
    accounts = [(None, SEED_CASHOUTS), (SECOND_ACCOUNT, SECOND_ACCOUNT_CASHOUTS)]
    return {(a, i): sandbox.status_of(i, a) for a, ids in accounts for i in ids}


def _status_name(code: int | None) -> str:
    return ABSENT if code is None else STATUS_DESCRIPTIONS.get(code, str(code))


def table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table."""
    cells: list[tuple[str, ...]] = [
        ("event", "caller", "status", "outcome", "cashout", "D24 before -> after", "calls")
    ]
    for row in rows:
        outcome = row.outcome
        if row.raised is not None:
            outcome += ", raised (retry)" if _is_retry(row.raised) else ", RAISED"
        change, calls = f"{row.before} -> {row.after}", str(row.d24_calls)
        cells.append(
            (row.file, row.caller, str(row.status_code), outcome, row.cashout, change, calls)
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    cells.insert(1, tuple("-" * width for width in widths))
    return "\n".join("  ".join(map(str.ljust, line, widths)).rstrip() for line in cells)


def event_paths(explicit: str | None) -> list[Path]:
    """The one event asked for (from events/ when not found as given), or every event, in
    EXPECTED's order."""
    if explicit is not None:
        path, sample = Path(explicit), EVENTS_DIR / Path(explicit).name
        return [sample if not path.exists() and sample.exists() else path]
    order = list(EXPECTED)
    return sorted(event_files(), key=lambda p: order.index(p.name) if p.name in order else 99)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; 0 when every event behaved as its name promises."""
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument("event", nargs="?", help="run just this event file and show its response")
    parser.add_argument("--verbose", action="store_true", help="show INFO logs and EMF metrics")
    runtime_arguments(parser)
    parser.add_argument("--no-bulk", action="store_true", help="skip the bulk run")
    parser.add_argument(
        "--bulk-cashouts",
        type=int,
        default=bulk_demo.DEFAULT_CASHOUTS,
        help=f"cashouts in the bulk run (default {bulk_demo.DEFAULT_CASHOUTS}, at least 20)",
    )
    args = parser.parse_args(argv)
    paths = event_paths(args.event)
    for path in paths:
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            print(f"{path}: cannot read it: {error.strerror}", file=sys.stderr)
            return 2
        except ValueError as error:
            print(f"{path}: not JSON: {error}", file=sys.stderr)
            return 2

    bulk: bulk_demo.BulkRun | None = None
    runtime = {"runtime": args.runtime, "build_dir": args.build_dir}
    with local_function(verbose=args.verbose, **runtime) as function:
        rows = [run_event(function, path, args.verbose) for path in paths]
        if args.event is None and not args.no_bulk:
            bulk = bulk_demo.run_bulk(function, args.bulk_cashouts)
        lambda_ = getattr(function.handler, "function", None)  # a RuntimeHandler's LocalLambda

    print(table(rows))
    if lambda_ is None:
        print("\nanswered in this process by cashout_cancel.handler.lambda_handler")
    else:
        config = lambda_.config
        print(
            f"\nanswered by the built artifact {config.task_root} ({config.handler}) under"
            f" awslambdaric on {config.python}, {lambda_.processes_started} runtime process(es)"
        )
    if args.event is not None:
        _print_details(rows[0])
    mismatches = [f"{row.file}: {problem}" for row in rows for problem in row.problems()]
    if args.event is None:
        ran = {row.file for row in rows}
        mismatches += [f"{name}: missing from events/" for name in EXPECTED if name not in ran]
    if mismatches:
        print(f"{len(rows)} events, {len(mismatches)} not as expected:")
        print("\n".join(f"  {line}" for line in mismatches))
    else:
        print(f"{len(rows)} events, all as expected")
    if bulk is not None:
        print("\n".join(bulk_demo.summary(bulk)))
        print("\nD24 down, then the operators' replay of the failure queues: make rehearse")
    return 1 if mismatches else 0


def _print_details(row: Row) -> None:
    print("\nresponse:")
    if row.raised is not None:
        print(f"  raised {type(row.raised).__name__}: {row.raised}")
    else:
        print(json.dumps(row.response, indent=2))
    if isinstance(row.response, dict) and isinstance(row.response.get("body"), str):
        print("\nbody:", json.dumps(json.loads(row.response["body"]), indent=2), sep="\n")
    if row.metrics:
        print("\nmetrics (EMF, printed to stdout as in Lambda):", *row.metrics, sep="\n")
    print()


if __name__ == "__main__":
    sys.exit(main())
