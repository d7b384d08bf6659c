"""The bulk run of `make demo`: an operator's file of cancels through the queue, end to end.

1. The sandbox gets the plan's cashouts in every state (plan.py); the file names them, with a
   few lines repeated and a few invalid.
2. `python -m ops send` (in this process, with the operator's own arguments) refuses that file
   for its invalid lines, as CONTRACT section 9 says it must; it then sends the same file
   without them (skipping the repeated lines), and a second file that sends five lines again.
   The invalid lines reach the queue as raw messages, as a producer other than the tool could
   send them.
3. The local event source (local/sqs_event_source.py) works CancelQueue through the given
   execution environments: the real handler, in-process or the built artifact.
4. The results published on the bus (a tap queue reads them), D24's state, the dead-letter
   queue and CancelQueue are checked (checks.py).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cashout_cancel.d24.answers import CASHOUT_STATUS_NAMES
from local.bulk_demo import checks
from local.bulk_demo.plan import Plan, make_plan, seed, write_csv
from local.bulk_demo.queues import (
    CancelQueues,
    ResultsTap,
    create_cancel_queues,
    messages_left,
    read_all,
    send_raw,
)
from local.d24_sandbox import D24Sandbox
from local.function_env import FUNCTION_ENV
from local.sqs_event_source import (
    Environment,
    EventSourceMapping,
    EventSourceRun,
    SqsEventSource,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# The event source as template.yaml's BulkCancels sets it by default...
BATCH_SIZE = 10  # BulkBatchSize
MAXIMUM_CONCURRENCY = 2  # BulkMaximumConcurrency
# ...but quicker to hand a message back. The template keeps a received message invisible for
# 120 s (six times the function's 20 s Timeout, AWS's advice, so that no batch still being worked
# is received again), and BulkMaxReceiveCount is 5: an invalid line would reach the dead-letter
# queue after ten minutes. Locally a batch takes milliseconds, so the queue's visibility timeout is
# 2 s and each invocation is given a 2 s deadline: the template's rule (visibility timeout at least
# the function's timeout) kept at 1x, with redeliveries 60 times sooner.
VISIBILITY_TIMEOUT = 2
FUNCTION_TIMEOUT = float(VISIBILITY_TIMEOUT)
MAX_RECEIVE_COUNT = 2  # lower than the template's 5: invalid lines reach the DLQ in ~4 s, not ~10
DEFAULT_CASHOUTS = 200
RUN_TIMEOUT = 60.0  # seconds the event source may take before the run is called failed
BULK_CONCURRENCY = int(FUNCTION_ENV["BULK_CONCURRENCY"])  # cancels in flight per invocation


@dataclass(frozen=True)
class Send:
    """One run of the operators' tool: its command line, exit status and printed summary."""

    command: str
    exit_code: int
    output: str
    why: str


@dataclass(frozen=True)
class BulkRun:
    """Everything the bulk run did and found."""

    plan: Plan
    queues: CancelQueues
    sends: tuple[Send, ...]
    worked: EventSourceRun
    environments: str  # how many execution environments, and what they are
    results: tuple[dict[str, Any], ...]
    dead_letters: tuple[str, ...]
    d24_peak: int
    metric_documents: int
    checks: tuple[checks.Check, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(check.passed for check in self.checks)


def run_bulk(
    sandbox: D24Sandbox,
    environments: Sequence[Environment],
    *,
    described: str,
    results_bus: str,
    cashouts: int = DEFAULT_CASHOUTS,
) -> BulkRun:
    """The whole bulk run against the local services (AWS_ENDPOINT_URL must name moto);
    `described` says what the execution environments are, for the output."""
    import boto3  # here: `make invoke` (one event, no bulk run) never needs it

    started = time.monotonic()
    sqs, events = boto3.client("sqs"), boto3.client("events")
    plan = make_plan(cashouts)
    seed(sandbox, plan)
    queues = create_cancel_queues(
        sqs, visibility_timeout=VISIBILITY_TIMEOUT, max_receive_count=MAX_RECEIVE_COUNT
    )
    tap = ResultsTap(events, sqs, results_bus)
    mapping = EventSourceMapping(queues.url, BATCH_SIZE, MAXIMUM_CONCURRENCY)
    sends, worked, documents = _work(SqsEventSource(sqs, mapping, environments), plan, sqs)
    results = tuple(tap.details())
    dead_letters = tuple(read_all(sqs, queues.dead_letter_url))
    observed = checks.Observed(
        results=results,
        status_of=sandbox.status_of,
        delivered=worked.bodies,
        dead_letters=dead_letters,
        queue_left=messages_left(sqs, queues.url),
        timed_out=worked.timed_out,
        d24_peak=sandbox.in_flight_peak,
        tool_exit_codes=tuple(send.exit_code for send in sends),
    )
    return BulkRun(
        plan=plan,
        queues=queues,
        sends=sends,
        worked=worked,
        environments=described,
        results=results,
        dead_letters=dead_letters,
        d24_peak=sandbox.in_flight_peak,
        metric_documents=documents,
        checks=checks.bulk_checks(plan, observed, MAXIMUM_CONCURRENCY * BULK_CONCURRENCY),
        seconds=time.monotonic() - started,
    )


def _work(
    source: SqsEventSource, plan: Plan, sqs: SQSClient
) -> tuple[tuple[Send, ...], EventSourceRun, int]:
    """Send the plan's lines while the event source works the queue, until it is drained: what
    the tool did, what the event source did, and how many EMF documents the function printed."""
    printed = io.StringIO()
    # In-process, Powertools prints each invocation's EMF document to stdout, as in Lambda.
    with contextlib.redirect_stdout(printed):
        # The event source is live before anything is sent, as Lambda's mapping is: it works the
        # queue while the operator sends.
        source.start()
        try:
            sends = _send(plan, source.mapping.queue_url, sqs)
        finally:
            worked = source.drain(RUN_TIMEOUT)
    documents = sum(1 for line in printed.getvalue().splitlines() if '"_aws"' in line)
    return sends, worked, documents


def _send(plan: Plan, queue_url: str, sqs: SQSClient) -> tuple[Send, ...]:
    """The operator's file through the tool: refused whole for its invalid lines, which another
    producer sends as raw messages; then the file without them, and five of its lines again."""
    with tempfile.TemporaryDirectory(prefix="bulk-demo-") as folder:
        whole = write_csv(Path(folder) / "bulk.csv", plan.file_rows())
        valid = write_csv(Path(folder) / "bulk-valid.csv", plan.valid_rows())
        again = write_csv(Path(folder) / "bulk-again.csv", [line.row for line in plan.sent_again])
        refused = ops_send(whole, queue_url, "the operator's file, with its invalid lines")
        send_raw(sqs, queue_url, [checks.invalid_body(row) for row in plan.invalid])
        return (
            refused,
            ops_send(valid, queue_url, "the same file without them"),
            ops_send(again, queue_url, f"{len(plan.sent_again)} of its lines, sent again"),
        )


def ops_send(path: Path, queue_url: str, why: str) -> Send:
    """`python -m ops send PATH --queue-url URL`, run in this process: the command's own code
    (ops.send.run_send with the client ops.aws builds from the usual chain), its summary caught
    rather than printed, and no progress bar."""
    from ops import aws
    from ops.send import run_send

    session = aws.session(None, None, queue_url)
    printed = io.StringIO()
    code = run_send(
        path,
        queue_url,
        lambda: aws.sqs_client(session),
        dry_run=False,
        out=printed,
        progress=False,
    )
    return Send(f"python -m ops send {path.name} --queue-url URL", code, printed.getvalue(), why)


# Output


def print_bulk(run: BulkRun, out: TextIO) -> None:
    """The bulk run's story, its counts by outcome and its checks."""
    print("\n".join(report_lines(run)), file=out)


def report_lines(run: BulkRun) -> list[str]:
    """The bulk run's report, line by line."""
    worked, failed = run.worked, sum(not check.passed for check in run.checks)
    lines = [
        "",
        "Bulk cancels through the queue (CONTRACT sections 9 and 10)",
        f"  D24 sandbox: {_states(run.plan)}",
        f"  CancelQueue: {run.queues.url}",
    ]
    for n, send in enumerate(run.sends):
        lines.append(f"  $ {send.command}    # {send.why}: exit {send.exit_code}")
        lines += [f"      {line}" for line in send.output.splitlines()]
        if n == 0:
            lines.append(
                f"  $ (another producer) {len(run.plan.invalid)} invalid lines as raw messages,"
                " sent with boto3: ops send refuses any file that holds one"
            )
    lines += [
        f"  local event source: batch size {BATCH_SIZE}, maximum concurrency"
        f" {MAXIMUM_CONCURRENCY} ({run.environments}), visibility timeout {VISIBILITY_TIMEOUT} s"
        f" (template: 120 s), maxReceiveCount {MAX_RECEIVE_COUNT} (template default: 5)",
        f"  worked in {worked.seconds:.1f} s: {len(worked.batches)} invocations,"
        f" {worked.deleted} messages done and deleted, {_handed_back(run)},"
        f" {len(run.dead_letters)} moved to CancelDeadLetterQueue;"
        f" at most {worked.peak_concurrency} invocation(s) and {run.d24_peak} D24 requests at once",
    ]
    if run.metric_documents:
        lines.append(f"  {run.metric_documents} EMF metric documents caught from stdout")
    lines += ["", *_outcome_table(run), "", "  Checks"]
    lines += [
        f"    {'PASS' if check.passed else 'FAIL'}  {check.name} ({check.detail})"
        for check in run.checks
    ]
    verdict = "all passed" if not failed else f"{failed} FAILED"
    lines.append(f"\nBulk run: {len(run.checks)} checks, {verdict} ({run.seconds:.1f} s in all)")
    return lines


def _handed_back(run: BulkRun) -> str:
    """How many deliveries the function handed back, of invalid lines and of valid ones (those
    it did not start before its deadline: done on a later receive)."""
    invalid = {checks.invalid_body(row) for row in run.plan.invalid}
    bodies = run.worked.bodies
    of_invalid = sum(
        bodies[message_id] in invalid
        for batch in run.worked.batches
        for message_id in batch.handed_back
    )
    return (
        f"{run.worked.handed_back} deliveries handed back for redelivery ({of_invalid} of invalid"
        f" lines, {run.worked.handed_back - of_invalid} of valid ones)"
    )


def _states(plan: Plan) -> str:
    counts = Counter(line.status for line in plan.lines)
    known = ", ".join(
        f"{counts[code]} {name}" for code, name in CASHOUT_STATUS_NAMES.items() if counts[code]
    )
    unknown = counts[None]
    return (
        f"{len(plan.lines) - unknown} cashouts from {plan.lines[0].cashout_id} ({known}),"
        f" and {unknown} ids it does not know"
    )


def _outcome_table(run: BulkRun) -> list[str]:
    outcomes = Counter(str(result.get("outcome")) for result in run.results)
    rows = [(outcome, outcomes[outcome], "published") for outcome in sorted(outcomes)]
    rows.append(("INVALID_REQUEST", len(run.dead_letters), "in the dead-letter queue"))
    total = sum(count for _, count, _ in rows)
    lines = [f"  {'outcome':20} {'messages':>8}  where"]
    lines += [f"  {outcome:20} {count:8d}  {where}" for outcome, count, where in rows]
    lines.append(f"  {'total':20} {total:8d}")
    return lines
