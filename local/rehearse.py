"""`make rehearse`: the operators' replay (docs/runbook.md) rehearsed against the local function.

While D24 is down, a file of cancels in both accounts goes through the queue until each message
reaches the dead-letter queue, and EventBridge cancels invoked asynchronously leave Lambda's
on-failure records in the failure queue. D24 comes back; `cashout-ops replay` (its own code,
`--endpoint-url` at moto's server) lists both queues and moves them back to the cancel queue,
and the event source works it: every cancel ends cancelled at D24, every queue empty.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from local.bulk_demo import (
    RUN_TIMEOUT,
    ResultsTap,
    bulk_queues,
    by_account,
    cashout_ops,
    event_source,
)
from local.d24_sandbox import CANCELLED
from local.events import eventbridge_event
from local.function import SECOND_ACCOUNT, LocalFunction, aws_client, local_function
from local.lambda_context import ALIAS_ARN, LambdaContext, new_request_id
from local.sqs_event_source import messages_in

# (cashout id, account): the file's lines (2002 is cancelled already) and the EventBridge events.
FILE_LINES = ((80001, None), (80002, None), (2002, None), (3001, SECOND_ACCOUNT))
EVENTS = ((80003, None), (3002, SECOND_ACCOUNT))
RETRIES = 2  # template.yaml's EventInvokeConfig MaximumRetryAttempts


@dataclass(frozen=True)
class Rehearsal:
    """What the rehearsal did and left behind."""

    dead_lettered: int  # messages in CancelDeadLetterQueue while D24 was down
    invocations: list[int]  # how many times each EventBridge event was invoked
    failure_records: list[dict[str, Any]]  # what FailureQueue held while D24 was down
    commands: list[tuple[str, int, str]]  # each cashout-ops command: its arguments, status, output
    results: list[dict[str, Any]]  # the results published once the replayed cancels were worked
    d24: dict[tuple[str | None, int], int | None]  # what D24 holds at the end, by account and id
    left: dict[str, int]  # messages left in each queue at the end


def rehearse(function: LocalFunction, folder: Path, out: TextIO = sys.stdout) -> Rehearsal:
    """The whole rehearsal against the local function, each step told on `out`; the operator's
    file is written in `folder`."""

    def say(*lines: str) -> None:
        print(*lines, sep="\n", file=out, flush=True)

    sandbox, sqs = function.sandbox, aws_client("sqs", function.endpoint)
    file = folder / "cancels.csv"
    rows = [f"{i},ext-{i},{account or ''}\n" for i, account in FILE_LINES]
    file.write_text("cashout_id,external_id,merchant\n" + "".join(rows), encoding="utf-8")
    for cashout_id, account in FILE_LINES + EVENTS:
        if sandbox.status_of(cashout_id, account) is None:
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", account=account)
    queue, dead_letters = bulk_queues(sqs)
    failures = sqs.create_queue(QueueName="FailureQueue")["QueueUrl"]
    say("1. D24 goes down: every cancel answered 503, every status look-up reset")
    sandbox.outage()

    say(f"2. {len(FILE_LINES)} cancels through CancelQueue (cashout-ops send), worked meanwhile")
    source = event_source(function, sqs, queue)
    with contextlib.redirect_stdout(io.StringIO()):  # the function's EMF documents
        source.start()
        commands = [_ops(function, say, "send", str(file), "--queue-url", queue)]
        worked = source.drain(RUN_TIMEOUT)
    dead_lettered = messages_in(sqs, dead_letters)
    say(f"   handed back {worked.handed_back} times; in CancelDeadLetterQueue: {dead_lettered}")

    say(f"3. {len(EVENTS)} EventBridge cancels, invoked asynchronously ({RETRIES} retries each)")
    invocations = [_invoke_asynchronously(function, c, a, sqs, failures) for c, a in EVENTS]
    peeked = sqs.receive_message(QueueUrl=failures, MaxNumberOfMessages=10, VisibilityTimeout=0)
    records = [json.loads(message["Body"]) for message in peeked.get("Messages", [])]
    say(f"   invoked {invocations} times; FailureQueue: {len(records)} on-failure records, e.g.")
    say("   " + json.dumps({k: records[0][k] for k in ("requestContext", "responseContext")}))

    say("4. D24 comes back")
    sandbox.clear_faults()
    say("5. the operator looks, then replays both failure queues into CancelQueue")
    for from_queue in (dead_letters, failures):
        commands.append(_ops(function, say, "replay", "--from-queue", from_queue, "--dry-run"))
    for from_queue in (dead_letters, failures):
        commands.append(
            _ops(function, say, "replay", "--from-queue", from_queue, "--to-queue", queue)
        )

    say("6. the event source works CancelQueue")
    tap = ResultsTap(function)
    with contextlib.redirect_stdout(io.StringIO()):
        worked = event_source(function, sqs, queue).run_until_drained(RUN_TIMEOUT)
    results = tap.details()
    d24 = {(a, c): sandbox.status_of(c, a) for c, a in FILE_LINES + EVENTS}
    names = {"CancelQueue": queue, "CancelDeadLetterQueue": dead_letters, "FailureQueue": failures}
    left = {name: messages_in(sqs, url) for name, url in names.items()}
    say(f"   {worked.deleted} messages done; results published, by account:", *by_account(results))
    cancelled = sum(status == CANCELLED for status in d24.values())
    say(f"   D24 holds {cancelled} of the {len(d24)} cashouts cancelled; messages left: {left}")
    return Rehearsal(dead_lettered, invocations, records, commands, results, d24, left)


def _invoke_asynchronously(
    function: LocalFunction, cashout_id: int, account: str | None, sqs: Any, failure_queue: str
) -> int:
    """Lambda's asynchronous Invoke: the event, retried while the function raises (deployed,
    after about 1 and 2 minutes; here at once), then Lambda's on-failure record in
    `failure_queue`. How many invocations it took."""
    detail = {"cashout_id": cashout_id, "external_id": f"ext-{cashout_id}"}
    event = eventbridge_event(detail | ({"merchant": account} if account else {}))
    request_id = new_request_id()  # one for the event and its retries, as Lambda's
    for attempt in range(1, RETRIES + 2):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                function.handler(event, LambdaContext(request_id))
            return attempt
        except Exception as error:  # the function raised: Lambda retries
            failure = error
    record = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": ALIAS_ARN,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": RETRIES + 1,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": str(failure),
            "errorType": type(failure).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_tb(failure.__traceback__),
        },
    }
    sqs.send_message(QueueUrl=failure_queue, MessageBody=json.dumps(record))
    return RETRIES + 1


def _ops(function: LocalFunction, say: Callable[..., None], *args: str) -> tuple[str, int, str]:
    """`cashout-ops <args>`, shown as the operator types it, then what it printed."""
    status, printed = cashout_ops(function, *args)
    command = " ".join((".venv-ops/bin/cashout-ops", *args, "--endpoint-url", function.endpoint))
    say(
        f"   $ {command}",
        *(f"     {line}" for line in printed.splitlines()),
        f"     (exit {status})",
    )
    return " ".join(args), status, printed


def main() -> int:
    """Rehearse; 0 when every cancel ended cancelled and the failure queues are empty."""
    started = time.monotonic()
    # Quiet: the function's result lines (UPSTREAM_UNAVAILABLE) would bury the steps.
    with local_function(log_level="CRITICAL") as function, tempfile.TemporaryDirectory() as d:
        run = rehearse(function, Path(d))
    done = all(status == CANCELLED for status in run.d24.values()) and not any(run.left.values())
    print(f"{'rehearsed' if done else 'NOT AS EXPECTED'} in {time.monotonic() - started:.1f} s")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
