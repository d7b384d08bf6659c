"""Sending entries in batches of 10 (SQS SendMessageBatch, EventBridge PutEvents): each entry is
taken once at most; those AWS reports as not taken are resent, a bounded number of times.

A run stops early, leaving the rest not tried, when a whole call fails for good (`stopped_by`
says why) or when the operator asks it to (`should_stop`, checked between calls, so that the
batch in flight is always answered and recorded first). A KeyboardInterrupt during a call (a
second Ctrl-C) stops at once: that batch's entries may have been taken, and are reported so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import code_and_message
from ops.retrying import MAX_ATTEMPTS, CallFailure, backoff_seconds, classify

BATCH_SIZE = 10  # the most SQS and EventBridge take in one batch call
INTERRUPTED = "interrupted while AWS was answering"


@dataclass(frozen=True)
class Entry:
    """One message or event to send; `id` is unique within a run (a line, a message id)."""

    id: str
    body: str


@dataclass(frozen=True)
class Refused:
    """AWS did not take an entry: why, and whether sending it again may help."""

    reason: str
    retryable: bool


# One batch call: the ids AWS took and the entries it refused, by id.
BatchCall = Callable[[Sequence[Entry]], tuple[list[str], dict[str, Refused]]]


@dataclass
class Delivery:
    """What happened to each entry of a run, by id."""

    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # not taken: the reason
    unknown: dict[str, str] = field(default_factory=dict)  # may have been taken: never resent
    not_tried: list[str] = field(default_factory=list)  # the run stopped before their batch
    stopped_by: Exception | None = None  # the error that stopped the run early
    interrupted: bool = False  # the operator stopped the run


def deliver(
    entries: Sequence[Entry],
    call: BatchCall,
    *,
    on_taken: Callable[[list[str]], object] = lambda _: None,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
) -> Delivery:
    """Send `entries` in batches; `on_taken` hears of each call's taken ids as it answers."""
    delivery = Delivery()
    for start in range(0, len(entries), BATCH_SIZE):
        batch = entries[start : start + BATCH_SIZE]
        if should_stop():
            delivery.interrupted = True
        else:
            try:
                _deliver_batch(batch, call, delivery, on_taken, should_stop, sleep, max_attempts)
            except KeyboardInterrupt:  # between calls: what was answered is recorded
                delivery.interrupted = True
        if delivery.stopped_by is not None or delivery.interrupted:
            done = {*delivery.sent, *delivery.failed, *delivery.unknown, *delivery.not_tried}
            delivery.not_tried.extend(e.id for e in entries[start:] if e.id not in done)
            break
    return delivery


def _deliver_batch(
    batch: Sequence[Entry],
    call: BatchCall,
    delivery: Delivery,
    on_taken: Callable[[list[str]], object],
    should_stop: Callable[[], bool],
    sleep: Callable[[float], object],
    max_attempts: int,
) -> None:
    """One batch, resending what AWS refused as retryable, until taken or refused for good."""
    pending = list(batch)
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            if should_stop():
                delivery.interrupted = True  # the rest of the batch is not tried
                return
            sleep(backoff_seconds(attempt - 1))
        try:
            taken, refused = call(pending)
        except KeyboardInterrupt:
            delivery.unknown.update(dict.fromkeys((entry.id for entry in pending), INTERRUPTED))
            delivery.interrupted = True
            return
        except (BotoCoreError, ClientError) as exc:
            kind = classify(exc)
            if kind is CallFailure.RETRY and attempt < max_attempts:
                continue
            outcome = delivery.unknown if kind is CallFailure.UNKNOWN else delivery.failed
            outcome.update(dict.fromkeys((entry.id for entry in pending), _short(exc)))
            delivery.stopped_by = exc
            return
        pending = _settle(pending, taken, refused, delivery, last=attempt == max_attempts)
        on_taken(taken)
        if not pending:
            return


def _settle(
    pending: list[Entry],
    taken: list[str],
    refused: dict[str, Refused],
    delivery: Delivery,
    last: bool,
) -> list[Entry]:
    """Record one answer; return the entries to send again."""
    taken_ids = set(taken)
    again = []
    for entry in pending:
        if entry.id in taken_ids:
            delivery.sent.append(entry.id)
        elif entry.id not in refused:
            delivery.unknown[entry.id] = "the answer named it neither taken nor refused"
        elif refused[entry.id].retryable and not last:
            again.append(entry)
        else:
            delivery.failed[entry.id] = refused[entry.id].reason
    return again


def _short(exc: Exception) -> str:
    """The error of a whole call, as a few words for the report (stderr has the whole story)."""
    if isinstance(exc, ClientError):
        return code_and_message(exc)[0] or "ClientError"
    return type(exc).__name__
