"""The demo's bulk run (docs/contract.md sections 8-11, docs/local.md): an operator's file of
cancels in every D24 state, in two merchant accounts and one with no secret, through
`cashout-ops send` (its own code, in this process) and the queue, worked by the local SQS event
source; tests/local/test_bulk_run.py holds it to the contract.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.d24_sandbox import CANCELLED, COMPLETED, DELIVERED, ON_HOLD, PENDING, REJECTED
from local.function import SECOND_ACCOUNT, LocalFunction, aws_client
from local.lambda_context import LambdaContext
from local.sqs_event_source import EventSourceMapping, EventSourceRun, SqsEventSource, messages_in

# The event source as template.yaml's BulkCancels sets it by default...
BATCH_SIZE = 10  # BulkBatchSize
MAXIMUM_CONCURRENCY = 2  # BulkMaximumConcurrency
# ...but quicker to hand a message back. The template keeps a received message invisible for
# 120 s (six times the function's 20 s Timeout) and BulkMaxReceiveCount is 5: an invalid line
# would reach the dead-letter queue after ten minutes. Locally the visibility timeout is 2 s and
# each invocation is given 2 s, the template's rule (visibility timeout at least the function's
# timeout) kept at 1x; 2 receives, not 5, move an invalid line to the dead-letter queue.
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


def run_bulk(function: LocalFunction, cashouts: int = DEFAULT_CASHOUTS) -> BulkRun:
    """The whole bulk run against the local function's sandbox and moto."""
    sandbox, sqs = function.sandbox, aws_client("sqs", function.endpoint)
    plan = make_plan(cashouts)
    for cashout_id, state in plan.states.items():
        if state is not None:
            code, reason = ("R01", "Invalid account") if state == REJECTED else (None, None)
            account = plan.accounts[cashout_id]
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", state, code, reason, account)
    url, dead_letter_url = bulk_queues(sqs)
    tap = ResultsTap(function)
    source = event_source(function, sqs, url)
    # In-process, Powertools prints each invocation's EMF document to stdout, as in Lambda.
    with contextlib.redirect_stdout(io.StringIO()):
        source.start()
        try:
            exit_codes = _send(function, plan, url, sqs)
        finally:
            worked = source.drain(RUN_TIMEOUT)
    return BulkRun(
        plan=plan,
        exit_codes=exit_codes,
        worked=worked,
        environments=source.environments,
        results=tap.details(),
        dead_letters=read_all(sqs, dead_letter_url),
        queue_left=messages_in(sqs, url),
        asked=[(r.account, r.json()["cashout_id"]) for r in sandbox.received()],
        d24_peak=sandbox.in_flight_peak,
        in_flight_bound=MAXIMUM_CONCURRENCY * int(function.environment["BULK_CONCURRENCY"]),
    )


def bulk_queues(sqs: Any) -> tuple[str, str]:
    """CancelQueue and its CancelDeadLetterQueue, with the local visibility timeout and receive
    count: their URLs."""
    dead_letter_url = sqs.create_queue(QueueName="CancelDeadLetterQueue")["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": arn(sqs, dead_letter_url),
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    attributes = {
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
        "RedrivePolicy": json.dumps(redrive),
    }
    return sqs.create_queue(QueueName="CancelQueue", Attributes=attributes)[
        "QueueUrl"
    ], dead_letter_url


def event_source(function: LocalFunction, sqs: Any, queue_url: str) -> SqsEventSource:
    """The stand-in for BulkCancels on `queue_url`: the function's execution environments, each
    invocation given the visibility timeout, its answer passed on as JSON, as Lambda does."""

    def environment(handler: Any) -> Any:
        def invoke(event: dict[str, Any]) -> Any:
            answer = handler(event, LambdaContext(remaining_ms=VISIBILITY_TIMEOUT * 1000))
            return json.loads(json.dumps(answer))

        return invoke

    environments = [environment(h) for h in function.environments(MAXIMUM_CONCURRENCY)]
    mapping = EventSourceMapping(queue_url, BATCH_SIZE, MAXIMUM_CONCURRENCY)
    return SqsEventSource(sqs, mapping, environments)


def cashout_ops(function: LocalFunction, *args: str) -> tuple[int, str]:
    """`cashout-ops <args> --endpoint-url <moto>`, the operators' tool's own code in this process:
    its exit status and what it printed."""
    from ops.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = main([*args, "--endpoint-url", function.endpoint])
    return status, out.getvalue()


def _send(function: LocalFunction, plan: Plan, queue_url: str, sqs: Any) -> tuple[int, ...]:
    """The operator's file through `cashout-ops send`: refused for its invalid lines, which another
    producer sends raw; then the file without them, then five lines again."""
    rows = plan.rows([*plan.states, *plan.unknown_account]) + plan.rows(plan.repeated)
    invalid = [(*row, "") for row in INVALID_ROWS]
    files = (rows[:20] + invalid + rows[20:], rows, plan.rows(plan.sent_again))
    codes = []
    with tempfile.TemporaryDirectory(prefix="bulk-demo-") as folder:
        for n, file_rows in enumerate(files):
            path = Path(folder) / f"bulk-{n}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(
                    [("cashout_id", "external_id", "merchant"), *file_rows]
                )
            codes.append(cashout_ops(function, "send", str(path), "--queue-url", queue_url)[0])
            if n == 0:
                bodies = [invalid_body(row) for row in INVALID_ROWS]
                entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
                sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    return tuple(codes)


class ResultsTap:
    """The results published on the bus from now on: a rule forwards each to a queue, read all
    along on a thread (moto's SQS counts a queue's messages on every call, so a queue holding
    hundreds makes each call slower, the function's publish among them)."""

    def __init__(self, function: LocalFunction) -> None:
        events, self._sqs = (
            aws_client("events", function.endpoint),
            aws_client("sqs", function.endpoint),
        )
        self.url = self._sqs.create_queue(QueueName="results-tap")["QueueUrl"]
        bus = function.environment["RESULTS_EVENT_BUS"]
        pattern = {"source": ["cashout-cancel"], "detail-type": ["Cashout Cancel Completed"]}
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps(pattern))
        # Only the detail: moto parses every path of the input template on every event, inside
        # the function's PutEvents call (eight paths by default, ~10 ms an event).
        transformer = {"InputPathsMap": {"d": "$.detail"}, "InputTemplate": '{"detail": <d>}'}
        target = {"Id": "tap", "Arn": arn(self._sqs, self.url), "InputTransformer": transformer}
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[target])
        self._bodies: list[str] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            if not self._read_some():
                self._stop.wait(0.05)

    def _read_some(self) -> bool:
        read = read_all(self._sqs, self.url)
        self._bodies += read
        return bool(read)

    def details(self) -> list[dict[str, Any]]:
        """Stop reading: every result published since the tap was made."""
        self._stop.set()
        self._reader.join()
        self._read_some()
        return [json.loads(body)["detail"] for body in self._bodies]


def arn(sqs: Any, queue_url: str) -> str:
    """A queue's ARN."""
    found = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(found["Attributes"]["QueueArn"])


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
