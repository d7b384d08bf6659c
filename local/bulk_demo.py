"""The demo's bulk run (docs/contract.md sections 8-10): an operator's file of cancels through the
queue, end to end, against the local function (local/function.py).

1. The sandbox gets cashouts in every state; the file names each once, repeats a few lines and
   holds a few invalid ones.
2. `ops send` (its own code, in this process) refuses that file for its invalid lines; it then
   sends the file without them (skipping the repeats), and a second file of five lines again.
   The invalid lines reach the queue as raw messages, as another producer could send them.
3. The local SQS event source works CancelQueue through the function's execution environments;
   it is live before anything is sent, as Lambda's mapping is.
4. What the run left behind is returned: the results published on the bus, the dead-letter
   queue, the queue, D24's peak load. tests/local/test_bulk_run.py holds it to the contract.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.d24_sandbox import CANCELLED, COMPLETED, DELIVERED, ON_HOLD, PENDING, REJECTED
from local.function import LocalFunction, aws_client
from local.lambda_context import LambdaContext
from local.sqs_event_source import Environment, EventSourceMapping, EventSourceRun, SqsEventSource

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
RESULT_DETAIL_TYPE = "Cashout Cancel Completed"


@dataclass(frozen=True)
class Plan:
    """What the run sends: each cashout's D24 state before it, and which cashouts are sent twice."""

    states: dict[int, int | None]  # cashout id -> D24 status before the run (None: unknown)
    repeated: tuple[int, ...]  # repeated in the operator's file (sent once)
    sent_again: tuple[int, ...]  # sent again in a second file (two messages)

    def rows(self, cashout_ids: Any) -> list[tuple[str, str]]:
        """CSV rows cancelling these cashouts."""
        return [(str(cashout_id), f"ext-{cashout_id}") for cashout_id in cashout_ids]

    @property
    def valid_messages(self) -> int:
        """Messages with a valid cancel that reach the queue."""
        return len(self.states) + len(self.sent_again)


def make_plan(count: int) -> Plan:
    """`count` cashouts (at least len(STATE_MIX)) in the states of STATE_MIX, in turn."""
    if count < len(STATE_MIX):
        raise ValueError(f"the bulk run needs at least {len(STATE_MIX)} cashouts, got {count}")
    ids = range(FIRST_CASHOUT_ID, FIRST_CASHOUT_ID + count)
    states = {cashout_id: STATE_MIX[n % len(STATE_MIX)] for n, cashout_id in enumerate(ids)}
    pending = [cashout_id for cashout_id, state in states.items() if state == PENDING]
    again: list[int] = []
    for wanted in SENT_AGAIN_STATES:
        again.append(next(i for i, s in states.items() if s == wanted and i not in again))
    spread = len(pending) // (REPEATED_IN_FILE + 1)
    repeated = tuple(pending[n * spread] for n in range(1, REPEATED_IN_FILE + 1))
    return Plan(states, repeated, tuple(again))


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
    d24_peak: int  # the most requests D24 served at once
    in_flight_bound: int  # MaximumConcurrency x BULK_CONCURRENCY (docs/contract.md section 9)


def run_bulk(function: LocalFunction, cashouts: int = DEFAULT_CASHOUTS) -> BulkRun:
    """The whole bulk run against the local function's sandbox and moto."""
    sandbox = function.sandbox
    endpoint = function.environment["AWS_ENDPOINT_URL"]
    sqs, events = aws_client("sqs", endpoint), aws_client("events", endpoint)
    plan = make_plan(cashouts)
    for cashout_id, state in plan.states.items():
        if state is not None:
            rejection = ("R01", "Invalid account") if state == REJECTED else (None, None)
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", state, *rejection)
    dead_letter_url = sqs.create_queue(QueueName="CancelDeadLetterQueue")["QueueUrl"]
    redrive = {
        "deadLetterTargetArn": _arn(sqs, dead_letter_url),
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    }
    url = sqs.create_queue(
        QueueName="CancelQueue",
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    tap = ResultsTap(events, sqs, function.environment["RESULTS_EVENT_BUS"])
    environments = [_environment(h) for h in function.environments(MAXIMUM_CONCURRENCY)]
    source = SqsEventSource(
        sqs, EventSourceMapping(url, BATCH_SIZE, MAXIMUM_CONCURRENCY), environments
    )
    # In-process, Powertools prints each invocation's EMF document to stdout, as in Lambda.
    with contextlib.redirect_stdout(io.StringIO()):
        source.start()
        try:
            exit_codes = _send(plan, url, sqs)
        finally:
            worked = source.drain(RUN_TIMEOUT)
    return BulkRun(
        plan=plan,
        exit_codes=exit_codes,
        worked=worked,
        environments=len(environments),
        results=tap.details(),
        dead_letters=_read_all(sqs, dead_letter_url),
        queue_left=source.messages_left(),
        d24_peak=sandbox.in_flight_peak,
        in_flight_bound=MAXIMUM_CONCURRENCY * int(function.environment["BULK_CONCURRENCY"]),
    )


def _environment(handler: Any) -> Environment:
    def invoke(event: dict[str, Any]) -> Any:
        answer = handler(event, LambdaContext(remaining_ms=VISIBILITY_TIMEOUT * 1000))
        # Lambda hands the event source the answer as JSON: what does not survive that is lost.
        return json.loads(json.dumps(answer))

    return invoke


def _send(plan: Plan, queue_url: str, sqs: Any) -> tuple[int, ...]:
    """The operator's file through `ops send`: refused whole for its invalid lines, which another
    producer sends as raw messages; then the file without them, then five of its lines again."""
    from ops import aws
    from ops.csv_file import HEADER
    from ops.send import run_send

    rows = plan.rows(plan.states)
    step = len(rows) // (len(INVALID_ROWS) + 1)
    whole = list(rows)
    for n, bad in enumerate(INVALID_ROWS, start=1):
        whole.insert(n * step + n - 1, bad)
    whole += plan.rows(plan.repeated)
    files = (whole, rows + plan.rows(plan.repeated), plan.rows(plan.sent_again))
    session = aws.session(None, None, queue_url)
    codes = []
    with tempfile.TemporaryDirectory(prefix="bulk-demo-") as folder:
        for n, file_rows in enumerate(files):
            path = Path(folder) / f"bulk-{n}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([HEADER, *file_rows])
            out = io.StringIO()
            client = lambda: aws.sqs_client(session)  # noqa: E731 - the tool's own client
            codes.append(run_send(path, queue_url, client, dry_run=False, out=out, progress=False))
            if n == 0:
                bodies = [invalid_body(row) for row in INVALID_ROWS]
                entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
                sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    return tuple(codes)


class ResultsTap:
    """The results published on the bus from now on: a rule forwards each to a queue, read all
    along on a thread (moto's SQS counts a queue's messages on every call, so a queue holding
    hundreds makes each call slower, the function's publish among them)."""

    def __init__(self, events: Any, sqs: Any, bus: str) -> None:
        self._sqs = sqs
        self.url = sqs.create_queue(QueueName="bulk-demo-results-tap")["QueueUrl"]
        pattern = {"source": ["cashout-cancel"], "detail-type": [RESULT_DETAIL_TYPE]}
        events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps(pattern))
        # Only the detail: moto parses every path of the input template on every event, inside
        # the function's PutEvents call (eight paths by default, ~10 ms an event).
        transformer = {"InputPathsMap": {"d": "$.detail"}, "InputTemplate": '{"detail": <d>}'}
        target = {"Id": "tap", "Arn": _arn(sqs, self.url), "InputTransformer": transformer}
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[target])
        self._bodies: list[str] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            read = _read_all(self._sqs, self.url)
            self._bodies += read
            if not read:
                self._stop.wait(0.05)

    def details(self) -> list[dict[str, Any]]:
        """Stop reading: every result published since the tap was made."""
        self._stop.set()
        self._reader.join()
        self._bodies += _read_all(self._sqs, self.url)
        return [json.loads(body)["detail"] for body in self._bodies]


def _arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _read_all(sqs: Any, queue_url: str) -> list[str]:
    """The body of every message now visible in a queue, read and deleted."""
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        bodies += [message["Body"] for message in messages]
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
        ]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return bodies


def summary(run: BulkRun) -> list[str]:
    """The run in a few lines: what was sent, how the queue was worked, what came of it."""
    plan, worked = run.plan, run.worked
    unknown = sum(state is None for state in plan.states.values())
    outcomes = Counter(str(result.get("outcome")) for result in run.results)
    return [
        "",
        "Bulk cancel through the queue (docs/contract.md sections 9 and 10)",
        f"  {len(plan.states)} cashouts from {FIRST_CASHOUT_ID} in every D24 state ({unknown}"
        f" unknown to D24), {len(plan.sent_again)} sent twice, {len(INVALID_ROWS)} invalid lines",
        f"  ops send exit statuses {', '.join(map(str, run.exit_codes))}: the file refused for its"
        " invalid lines (sent raw by another producer), then sent without them, then 5 lines again",
        f"  worked in {worked.seconds:.1f} s by {run.environments} execution environment(s):"
        f" {len(worked.batches)} invocations, {worked.deleted} messages deleted,"
        f" {worked.handed_back} deliveries handed back; at most {worked.peak_concurrency}"
        f" invocation(s) and {run.d24_peak} D24 requests at once (bound {run.in_flight_bound})",
        "  published: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())),
        f"  in CancelDeadLetterQueue: {len(run.dead_letters)}: {', '.join(run.dead_letters)}",
    ]
