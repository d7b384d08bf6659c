"""`cashout-ops replay`: what waits in a failure queue, back for another try.

Each message is read into a cancel request (ops/failures.py), re-sent (to the cancel queue or as
a "Cashout Cancel Requested" event on a bus) and deleted only once the re-send is confirmed.
What cannot be read, or was not confirmed, stays in the queue and is made visible again at the
end. Replaying is safe because a cancel is idempotent: a second one answers ALREADY_CANCELLED.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops.batches import BatchCall, Entry, deliver
from ops.errors import OperatorError, explain
from ops.failures import Replayable, read_message
from ops.messages import cancel_json
from ops.sqs import delete, receive, release

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Long enough for one run to read a whole queue; what the run leaves is released at its end.
VISIBILITY_SECONDS = 300
WAIT_SECONDS = 2  # long polling asks every SQS server, so an empty answer means an empty queue


@dataclass
class ReplayReport:
    """What happened to each message read, by message id."""

    replayed: list[str] = field(default_factory=list)
    would_replay: list[str] = field(default_factory=list)  # dry run
    skipped: dict[str, str] = field(default_factory=dict)  # unreadable: left in the queue
    not_sent: dict[str, str] = field(default_factory=dict)  # re-send refused: left
    maybe_sent: dict[str, str] = field(default_factory=dict)  # answer lost: left
    not_deleted: dict[str, str] = field(default_factory=dict)  # re-sent, still in the queue

    @property
    def left(self) -> int:
        """How many messages this run leaves in the queue that it did not mean to."""
        return len(self.skipped) + len(self.not_sent) + len(self.maybe_sent) + len(self.not_deleted)


@dataclass
class _Run:
    client: SQSClient
    queue_url: str
    send: BatchCall | None  # None: dry run
    destination: str  # what `send` sends to, for error messages
    out: TextIO
    sleep: Callable[[float], object]
    should_stop: Callable[[], bool]
    report: ReplayReport = field(default_factory=ReplayReport)
    held: dict[str, str] = field(default_factory=dict)  # message id -> receipt: to release
    seen: set[str] = field(default_factory=set)
    stopped: OperatorError | None = None  # what AWS refused, which ended the run


def run_replay(
    client: SQSClient,
    queue_url: str,
    send: BatchCall | None,
    *,
    out: TextIO,
    limit: int | None = None,
    wait_seconds: int | None = None,
    sleep: Callable[[float], object] = time.sleep,
    destination: str = "the destination",
    should_stop: Callable[[], bool] = lambda: False,
) -> ReplayReport:
    """Replay up to `limit` messages of `queue_url` through `send` (None: a dry run), each
    receive waiting up to `wait_seconds` (default WAIT_SECONDS) for messages.

        An OperatorError, after the summary, when AWS refused a call for good; what was not
        replayed stays in the queue, visible again.
    """
    run = _Run(client, queue_url, send, destination, out, sleep, should_stop)
    try:
        while (limit is None or len(run.seen) < limit) and not should_stop():
            try:
                wait = WAIT_SECONDS if wait_seconds is None else wait_seconds
                messages = receive(client, queue_url, VISIBILITY_SECONDS, wait)
            except (BotoCoreError, ClientError) as exc:
                run.stopped = OperatorError(explain(exc, f"the queue {queue_url}"))
                break
            fresh = _fresh(run, messages, limit)
            if not fresh or not _replay(run, fresh):
                break
    finally:
        _release(run)
    _print_summary(run.report, dry_run=send is None, out=out)
    if should_stop():
        print("interrupted: what was not replayed is still in the queue", file=out)
    if run.stopped is not None:
        raise run.stopped
    return run.report


def _fresh(run: _Run, messages: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """Messages not read before in this run, up to the limit; the others are held."""
    fresh: list[dict[str, Any]] = []
    for message in messages:
        key = message["MessageId"]
        within = limit is None or len(run.seen) + len(fresh) < limit
        if key in run.seen or not within:
            run.held[key] = message["ReceiptHandle"]  # the newest receipt is the valid one
        else:
            fresh.append(message)
    run.seen.update(message["MessageId"] for message in fresh)
    return fresh


def _replay(run: _Run, messages: list[dict[str, Any]]) -> bool:
    """Replay one receive's messages; False when re-sending failed for good (stop the run)."""
    readable: dict[str, tuple[str, Replayable]] = {}
    for message in messages:
        key, receipt = message["MessageId"], message["ReceiptHandle"]
        found = read_message(message.get("Body", ""), message.get("MessageAttributes", {}))
        if isinstance(found, Replayable):
            readable[key] = (receipt, found)
        else:
            run.report.skipped[key] = found.reason
            run.held[key] = receipt
            print(f"skip  {key}: {found.reason} (left in the queue)", file=run.out)
    if run.send is None:
        for key, (receipt, found) in readable.items():
            run.report.would_replay.append(key)
            run.held[key] = receipt
            print(f"would {key}: {_describe(found)}", file=run.out)
        return True
    return _resend(run, run.send, readable)


def _resend(run: _Run, send: BatchCall, readable: dict[str, tuple[str, Replayable]]) -> bool:
    entries = [
        Entry(key, cancel_json(found.request, found.merchant))
        for key, (_, found) in readable.items()
    ]
    delivery = deliver(entries, send, sleep=run.sleep, should_stop=run.should_stop)
    if delivery.stopped_by is not None:
        run.stopped = OperatorError(explain(delivery.stopped_by, run.destination))
    refused = {**delivery.failed, **dict.fromkeys(delivery.not_tried, "not tried: the run stopped")}
    for key, reason in {**refused, **delivery.unknown}.items():
        (run.report.not_sent if key in refused else run.report.maybe_sent)[key] = reason
        run.held[key] = readable[key][0]
        print(f"left  {key}: {reason}", file=run.out)
    sent = {key: readable[key][0] for key in delivery.sent}
    try:
        undeleted = delete(run.client, run.queue_url, sent)
    except (BotoCoreError, ClientError) as exc:
        run.stopped = OperatorError(explain(exc, f"the queue {run.queue_url}"))
        undeleted = dict.fromkeys(sent, "the delete was refused")
    for key in sent:
        if key in undeleted:
            run.report.not_deleted[key] = undeleted[key]
            print(f"kept  {key}: re-sent, but not deleted ({undeleted[key]})", file=run.out)
        else:
            run.report.replayed.append(key)
            print(f"done  {key}: {_describe(readable[key][1])}", file=run.out)
    return not refused and not delivery.unknown and run.stopped is None


def _describe(found: Replayable) -> str:
    request = found.request
    account = f" of merchant account {found.merchant}" if found.merchant else ""
    return f"cashout {request.cashout_id} ({request.external_id}){account} from a {found.origin}"


def _release(run: _Run) -> None:
    """Make what this run read but leaves in the queue visible again at once."""
    try:
        release(run.client, run.queue_url, run.held)
    except (BotoCoreError, ClientError) as exc:
        # They become visible by themselves when the visibility timeout ends.
        print(f"note: could not release {len(run.held)} message(s) early: {exc}", file=run.out)


def _print_summary(report: ReplayReport, *, dry_run: bool, out: TextIO) -> None:
    if dry_run:
        print(
            f"summary (dry run): {len(report.would_replay)} would be replayed,"
            f" {len(report.skipped)} skipped; nothing sent or deleted",
            file=out,
        )
        return
    print(
        f"summary: {len(report.replayed)} replayed, {len(report.skipped)} skipped,"
        f" {len(report.not_sent) + len(report.maybe_sent)} failed to re-send,"
        f" {len(report.not_deleted)} re-sent but not deleted",
        file=out,
    )
