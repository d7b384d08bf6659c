"""Cancels through the local queues with `cashout-ops` (in this process, at moto's server) and
the local SQS event source (docs/local.md): `run_bulk`, the demo's bulk run (docs/contract.md
sections 8-11), and `rehearse` (`make rehearse`), the operators' replay of both failure queues
after D24 was down (docs/runbook.md).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from local.d24_sandbox import CANCELLED, COMPLETED, DELIVERED, ON_HOLD, PENDING, REJECTED
from local.events import direct_event, eventbridge_event
from local.function import SECOND_ACCOUNT, LocalFunction, aws_client, local_function
from local.lambda_context import ALIAS_ARN, LambdaContext, new_request_id
from local.sqs_event_source import (
    EventSourceMapping,
    EventSourceRun,
    SqsEventSource,
    messages_in,
    queue_arn,
)

# The event source as template.yaml's BulkCancels sets it by default...
BATCH_SIZE = 10  # BulkBatchSize
MAXIMUM_CONCURRENCY = 2  # BulkMaximumConcurrency
# ...but quicker to hand a message back: with the template's 120 s visibility timeout and 5
# receives an invalid line takes ten minutes to reach the dead-letter queue. Locally each
# invocation is given the 2 s visibility timeout (the template's rule kept at 1x), and 2 receives.
VISIBILITY_TIMEOUT = 2
MAX_RECEIVE_COUNT = 2
RUN_TIMEOUT = 60.0  # seconds the event source may take to empty the queue
DEFAULT_CASHOUTS = 200

FIRST_CASHOUT_ID = 50_001  # clear of the sandbox's seeded ids and the events in events/
# Every twenty cashouts, by D24 state before the run (None: unknown to D24); mostly cancellable.
STATE_MIX: tuple[int | None, ...] = (
    (PENDING,) * 8 + (ON_HOLD,) * 3 + (COMPLETED, CANCELLED, REJECTED, DELIVERED) * 2 + (None,)
)
SECOND_ACCOUNT_EVERY = 3  # every third cashout is the second account's: over forty, every state
UNKNOWN_ACCOUNT = "globex-ar"  # an account the deployment has no secret for
REPEATED_IN_FILE = 3  # lines the file repeats: ops send sends each cancel once and says so
SENT_AGAIN_STATES = (PENDING, PENDING, PENDING, ON_HOLD, COMPLETED)  # a second file sends these
# Lines the function's validation refuses (ops send refuses the whole file for any of them).
INVALID_ROWS: tuple[tuple[str, str], ...] = (
    ("12a", "ext-not-a-number"),
    ("-5", "ext-negative"),
    ("0042", "ext-leading-zeros"),
    ("", "ext-no-cashout-id"),
    (str(FIRST_CASHOUT_ID), ""),  # a real cashout, but an empty external_id
)

# The rehearsal's (cashout id, account): the file's lines (2002 is cancelled already), then the
# EventBridge events.
REHEARSED_LINES = ((80001, None), (80002, None), (2002, None), (3001, SECOND_ACCOUNT))
REHEARSED_EVENTS = ((80003, None), (3002, SECOND_ACCOUNT))
RETRIES = 2  # template.yaml's EventInvokeConfig MaximumRetryAttempts
OPS = ".venv-ops/bin/cashout-ops"


@dataclass(frozen=True)
class Plan:
    """What the run sends: each cashout's state and account, and which lines go more than once."""

    states: dict[int, int | None]  # cashout id -> D24 status before the run (None: unknown)
    accounts: dict[int, str | None]  # cashout id -> the account its line names (None: default)
    repeated: tuple[int, ...]  # repeated in the operator's file (sent once)
    sent_again: tuple[int, ...]  # sent again in a second file (two messages)
    unknown_account: tuple[int, ...]  # lines naming UNKNOWN_ACCOUNT: nothing goes to D24

    def rows(self, cashout_ids: Iterable[int]) -> list[tuple[str, ...]]:
        """CSV rows (cashout_id,external_id,merchant) cancelling these cashouts."""
        return [(str(i), f"ext-{i}", self.accounts[i] or "") for i in cashout_ids]

    @property
    def valid_messages(self) -> int:
        """Messages with a valid cancel that reach the queue."""
        return len(self.states) + len(self.sent_again) + len(self.unknown_account)


def make_plan(count: int) -> Plan:
    """`count` cashouts (at least len(STATE_MIX)) in the states of STATE_MIX, in turn."""
    if count < len(STATE_MIX):
        raise ValueError(f"the bulk run needs at least {len(STATE_MIX)} cashouts, got {count}")
    ids = range(FIRST_CASHOUT_ID, FIRST_CASHOUT_ID + count)
    states = {cashout_id: STATE_MIX[n % len(STATE_MIX)] for n, cashout_id in enumerate(ids)}
    accounts: dict[int, str | None] = {
        i: SECOND_ACCOUNT if n % SECOND_ACCOUNT_EVERY == 1 else None for n, i in enumerate(ids)
    }
    unknown = (ids.stop, ids.stop + 1)
    accounts.update(dict.fromkeys(unknown, UNKNOWN_ACCOUNT))
    again: list[int] = []
    for wanted in SENT_AGAIN_STATES:
        again.append(next(i for i, s in states.items() if s == wanted and i not in again))
    pending = [cashout_id for cashout_id, state in states.items() if state == PENDING]
    spread = len(pending) // (REPEATED_IN_FILE + 1)
    repeated = tuple(pending[n * spread] for n in range(1, REPEATED_IN_FILE + 1))
    return Plan(states, accounts, repeated, tuple(again), unknown)


def invalid_body(row: tuple[str, str]) -> str:
    """An invalid line as another producer sends it: the CSV fields as a JSON object."""
    return json.dumps(dict(zip(("cashout_id", "external_id"), row, strict=True)))


@dataclass(frozen=True)
class BulkRun:
    """What the bulk run did and left behind."""

    plan: Plan
    exit_codes: tuple[int, ...]  # ops send's: the whole file, without its invalid lines, again
    worked: EventSourceRun
    environments: int  # execution environments the event source invoked
    results: list[dict[str, Any]]  # the detail of every result published on the bus
    dead_letters: list[str]  # the bodies in CancelDeadLetterQueue
    queue_left: int  # messages still in CancelQueue, visible or not
    asked: list[tuple[str | None, int]]  # (account, cashout id) of every request D24 received
    d24_peak: int  # the most requests D24 served at once
    in_flight_bound: int  # MaximumConcurrency x BULK_CONCURRENCY (docs/contract.md section 9)


class Queues:
    """CancelQueue and its CancelDeadLetterQueue (the local visibility timeout and receive count),
    worked by the stand-in for BulkCancels, and `cashout-ops` pointed at them."""

    def __init__(self, function: LocalFunction) -> None:
        self.function, self.sqs = function, aws_client("sqs", function.endpoint)
        self.dead_letters = self.sqs.create_queue(QueueName="CancelDeadLetterQueue")["QueueUrl"]
        redrive = {"deadLetterTargetArn": queue_arn(self.sqs, self.dead_letters)}
        attributes = {
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps(redrive | {"maxReceiveCount": MAX_RECEIVE_COUNT}),
        }
        self.url = self.sqs.create_queue(QueueName="CancelQueue", Attributes=attributes)["QueueUrl"]

    def work(self, meanwhile: Callable[[], Any] = lambda: None) -> tuple[EventSourceRun, int]:
        """The event source works the queue while `meanwhile` runs, then until it is empty: what
        it did, and with how many execution environments."""
        handlers = self.function.environments(MAXIMUM_CONCURRENCY)
        environments = [functools.partial(invoke_from_queue, handler) for handler in handlers]
        mapping = EventSourceMapping(self.url, BATCH_SIZE, MAXIMUM_CONCURRENCY)
        source = SqsEventSource(self.sqs, mapping, environments)
        # In-process, Powertools prints each invocation's EMF document to stdout, as in Lambda.
        with contextlib.redirect_stdout(io.StringIO()):
            source.start()
            try:
                meanwhile()
            finally:
                worked = source.drain(RUN_TIMEOUT)
        return worked, len(environments)

    def ops(self, *args: str) -> tuple[int, str]:
        """`cashout-ops <args> --endpoint-url <moto>`: its exit status and what it printed."""
        from ops.cli import main

        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = main([*args, "--endpoint-url", self.function.endpoint])
        return status, out.getvalue()


def invoke_from_queue(handler: Any, event: dict[str, Any]) -> Any:
    """One invocation given the visibility timeout, its answer passed on as JSON, as Lambda does."""
    answer = handler(event, LambdaContext(remaining_ms=VISIBILITY_TIMEOUT * 1000))
    return json.loads(json.dumps(answer))


def write_file(path: Path, rows: Iterable[Sequence[str]]) -> str:
    """An operator's file of cancels (cashout_id,external_id,merchant) at `path`."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("cashout_id", "external_id", "merchant"), *rows])
    return str(path)


def run_bulk(function: LocalFunction, cashouts: int = DEFAULT_CASHOUTS) -> BulkRun:
    """The whole bulk run against the local function's sandbox and moto."""
    sandbox, plan, queues = function.sandbox, make_plan(cashouts), Queues(function)
    for cashout_id, state in plan.states.items():
        if state is not None:
            code, reason = ("R01", "Invalid account") if state == REJECTED else (None, None)
            account = plan.accounts[cashout_id]
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", state, code, reason, account)
    tap, exit_codes = ResultsTap(function), []

    def send() -> None:
        """The operator's file through `cashout-ops send`: refused for its invalid lines, which
        another producer sends raw; then the file without them, then five lines again."""
        rows = plan.rows([*plan.states, *plan.unknown_account]) + plan.rows(plan.repeated)
        invalid = [(*row, "") for row in INVALID_ROWS]
        files = (rows[:20] + invalid + rows[20:], rows, plan.rows(plan.sent_again))
        with tempfile.TemporaryDirectory(prefix="bulk-demo-") as folder:
            for n, file_rows in enumerate(files):
                path = write_file(Path(folder) / f"bulk-{n}.csv", file_rows)
                exit_codes.append(queues.ops("send", path, "--queue-url", queues.url)[0])
                if n == 0:
                    bodies = map(invalid_body, INVALID_ROWS)
                    entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
                    queues.sqs.send_message_batch(QueueUrl=queues.url, Entries=entries)

    worked, environments = queues.work(send)
    return BulkRun(
        plan=plan,
        exit_codes=tuple(exit_codes),
        worked=worked,
        environments=environments,
        results=tap.details(),
        dead_letters=read_all(queues.sqs, queues.dead_letters),
        queue_left=messages_in(queues.sqs, queues.url),
        asked=[(r.account, r.json()["cashout_id"]) for r in sandbox.received()],
        d24_peak=sandbox.in_flight_peak,
        in_flight_bound=MAXIMUM_CONCURRENCY * int(function.environment["BULK_CONCURRENCY"]),
    )


class ResultsTap:
    """The results published on the bus from now on: a rule forwards each to a queue, read all
    along on a thread (moto's SQS counts a queue's messages on every call, so a queue holding
    hundreds makes each call slower, the function's publish among them)."""

    def __init__(self, function: LocalFunction) -> None:
        events, self._sqs = (aws_client(name, function.endpoint) for name in ("events", "sqs"))
        self.url = self._sqs.create_queue(QueueName="results-tap")["QueueUrl"]
        bus = function.environment["RESULTS_EVENT_BUS"]
        pattern = {"source": ["cashout-cancel"], "detail-type": ["Cashout Cancel Completed"]}
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps(pattern))
        # Only the detail: moto parses every path of the input template on every event, inside
        # the function's PutEvents call (eight paths by default, ~10 ms an event).
        transformer = {"InputPathsMap": {"d": "$.detail"}, "InputTemplate": '{"detail": <d>}'}
        target = {
            "Id": "tap",
            "Arn": queue_arn(self._sqs, self.url),
            "InputTransformer": transformer,
        }
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[target])
        self._bodies: list[str] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.wait(0.05):
            self._bodies += read_all(self._sqs, self.url)

    def details(self) -> list[dict[str, Any]]:
        """Stop reading: every result published since the tap was made."""
        self._stop.set()
        self._reader.join()
        self._bodies += read_all(self._sqs, self.url)
        return [json.loads(body)["detail"] for body in self._bodies]


def read_all(sqs: Any, queue_url: str) -> list[str]:
    """The body of every message now visible in a queue, read and deleted."""
    bodies: list[str] = []
    while found := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [message["Body"] for message in found]
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(found)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return bodies


def by_account(results: Iterable[dict[str, Any]]) -> list[str]:
    """One line per account (the default one first): the outcomes of its results."""
    outcomes: dict[str, Counter[str]] = {"default": Counter()}
    for result in results:
        outcomes.setdefault(result.get("merchant") or "default", Counter())[result["outcome"]] += 1
    width = max(map(len, outcomes))
    return [
        f"    {account.ljust(width)}  " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        for account, counts in outcomes.items()
        if counts
    ]


def summary(run: BulkRun) -> list[str]:
    """The run in a few lines: what was sent, how the queue was worked, what came of it."""
    plan, worked = run.plan, run.worked
    unknown = sum(state is None for state in plan.states.values())
    second = sum(account == SECOND_ACCOUNT for account in plan.accounts.values())
    return [
        "",
        "Bulk cancel through the queue (docs/contract.md sections 9 to 11)",
        f"  {len(plan.states)} cashouts from {FIRST_CASHOUT_ID} in every D24 state ({unknown}"
        f" unknown to D24), {second} of them {SECOND_ACCOUNT}'s, {len(plan.sent_again)} sent"
        f" twice; {len(plan.unknown_account)} lines naming {UNKNOWN_ACCOUNT} (no secret),"
        f" {len(INVALID_ROWS)} invalid lines",
        f"  ops send exit statuses {', '.join(map(str, run.exit_codes))}: the file refused for its"
        " invalid lines (sent raw by another producer), then sent without them, then 5 lines again",
        f"  worked in {worked.seconds:.1f} s by {run.environments} execution environment(s):"
        f" {len(worked.batches)} invocations, {worked.deleted} messages deleted,"
        f" {worked.handed_back} deliveries handed back; at most {worked.peak_concurrency}"
        f" invocation(s) and {run.d24_peak} D24 requests at once (bound {run.in_flight_bound})",
        "  published, by account:",
        *by_account(run.results),
        f"  in CancelDeadLetterQueue: {len(run.dead_letters)}: {', '.join(run.dead_letters)}",
    ]


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

    def ops(*args: str) -> None:  # shown as the operator types it, then what it printed
        status, printed = queues.ops(*args)
        say(f"   $ {' '.join((OPS, *args, '--endpoint-url', function.endpoint))}")
        say(*(f"     {line}" for line in printed.splitlines()), f"     (exit {status})")
        commands.append((" ".join(args), status, printed))

    sandbox, queues = function.sandbox, Queues(function)
    commands: list[tuple[str, int, str]] = []
    lines, events = REHEARSED_LINES, REHEARSED_EVENTS
    for cashout_id, account in lines + events:
        if sandbox.status_of(cashout_id, account) is None:
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", account=account)
    rows = [(str(i), f"ext-{i}", account or "") for i, account in lines]
    file = write_file(folder / "cancels.csv", rows)
    sqs, queue, dead_letters = queues.sqs, queues.url, queues.dead_letters
    failures = sqs.create_queue(QueueName="FailureQueue")["QueueUrl"]
    say("1. D24 goes down: every cancel answered 503, every status look-up reset")
    sandbox.outage()

    say(f"2. {len(rows)} cancels through CancelQueue (cashout-ops send), worked meanwhile")
    worked, _ = queues.work(lambda: ops("send", file, "--queue-url", queue))
    dead_lettered = messages_in(sqs, dead_letters)
    say(f"   handed back {worked.handed_back} times; in CancelDeadLetterQueue: {dead_lettered}")

    say(f"3. {len(events)} EventBridge cancels, invoked asynchronously ({RETRIES} retries each)")
    invocations = [invoke_asynchronously(function, c, a, sqs, failures) for c, a in events]
    peeked = sqs.receive_message(QueueUrl=failures, MaxNumberOfMessages=10, VisibilityTimeout=0)
    records = [json.loads(message["Body"]) for message in peeked.get("Messages", [])]
    say(f"   invoked {invocations} times; FailureQueue: {len(records)} on-failure records, e.g.")
    say("   " + json.dumps({k: records[0][k] for k in ("requestContext", "responseContext")}))

    say("4. D24 comes back")
    sandbox.clear_faults()
    say("5. the operator looks, then replays both failure queues into CancelQueue")
    for then in (["--dry-run"], ["--to-queue", queue]):
        for from_queue in (dead_letters, failures):
            ops("replay", "--from-queue", from_queue, *then)

    say("6. the event source works CancelQueue")
    tap = ResultsTap(function)
    worked, _ = queues.work()
    results = tap.details()
    d24 = {(a, c): sandbox.status_of(c, a) for c, a in lines + events}
    names = {"CancelQueue": queue, "CancelDeadLetterQueue": dead_letters, "FailureQueue": failures}
    left = {name: messages_in(sqs, url) for name, url in names.items()}
    say(f"   {worked.deleted} messages done; results published, by account:", *by_account(results))
    cancelled = sum(status == CANCELLED for status in d24.values())
    say(f"   D24 holds {cancelled} of the {len(d24)} cashouts cancelled; messages left: {left}")
    return Rehearsal(dead_lettered, invocations, records, commands, results, d24, left)


def invoke_asynchronously(
    function: LocalFunction, cashout_id: int, account: str | None, sqs: Any, failure_queue: str
) -> int:
    """Lambda's asynchronous Invoke: the event, retried while the function raises (deployed,
    after about 1 and 2 minutes; here at once), then Lambda's on-failure record in
    `failure_queue`. How many invocations it took."""
    event = eventbridge_event(direct_event(cashout_id, f"ext-{cashout_id}", account))
    request_id = new_request_id()  # one for the event and its retries, as Lambda's
    for attempt in range(1, RETRIES + 2):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                function.handler(event, LambdaContext(request_id))
            return attempt
        except Exception as error:  # the function raised: Lambda retries
            failure = error
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    invoked = {"requestId": request_id, "functionArn": ALIAS_ARN, "condition": "RetriesExhausted"}
    answered = {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    reported = {"errorMessage": str(failure), "errorType": type(failure).__name__}
    stack = traceback.format_tb(failure.__traceback__)
    record = {
        "version": "1.0",
        "timestamp": now,
        "requestContext": invoked | {"approximateInvokeCount": RETRIES + 1},
        "requestPayload": event,
        "responseContext": answered,
        "responsePayload": reported | {"requestId": request_id, "stackTrace": stack},
    }
    sqs.send_message(QueueUrl=failure_queue, MessageBody=json.dumps(record))
    return RETRIES + 1


def main() -> int:
    """`make rehearse`: 0 when every cancel ended cancelled and the failure queues are empty."""
    started = time.monotonic()
    # Quiet: the function's result lines (UPSTREAM_UNAVAILABLE) would bury the steps.
    with local_function(log_level="CRITICAL") as function, tempfile.TemporaryDirectory() as d:
        run = rehearse(function, Path(d))
    done = all(status == CANCELLED for status in run.d24.values()) and not any(run.left.values())
    print(f"{'rehearsed' if done else 'NOT AS EXPECTED'} in {time.monotonic() - started:.1f} s")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
