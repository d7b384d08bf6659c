"""Sending entries in batches of 10 (SQS SendMessageBatch, EventBridge PutEvents): each entry is
taken once at most; those AWS reports as not taken are resent, a bounded number of times."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from ops.retrying import MAX_ATTEMPTS, CallFailure, backoff_seconds, classify

BATCH_SIZE = 10  # the most SQS and EventBridge take in one batch call


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


def deliver(
    entries: Sequence[Entry],
    call: BatchCall,
    *,
    on_sent: Callable[[int], object] = lambda _: None,
    sleep: Callable[[float], object] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
) -> Delivery:
    """Send `entries` in batches; stop at the first batch whose whole call fails for good."""
    delivery = Delivery()
    for start in range(0, len(entries), BATCH_SIZE):
        if not _deliver_batch(
            entries[start : start + BATCH_SIZE], call, delivery, on_sent, sleep, max_attempts
        ):
            delivery.not_tried.extend(entry.id for entry in entries[start + BATCH_SIZE :])
            break
    return delivery


def _deliver_batch(
    batch: Sequence[Entry],
    call: BatchCall,
    delivery: Delivery,
    on_sent: Callable[[int], object],
    sleep: Callable[[float], object],
    max_attempts: int,
) -> bool:
    """One batch, resending what AWS refused as retryable; False when the run must stop."""
    pending = list(batch)
    for attempt in range(1, max_attempts + 1):
        try:
            taken, refused = call(pending)
        except (BotoCoreError, ClientError) as exc:
            kind = classify(exc)
            if kind is CallFailure.RETRY and attempt < max_attempts:
                sleep(backoff_seconds(attempt))
                continue
            outcome = delivery.unknown if kind is CallFailure.UNKNOWN else delivery.failed
            outcome.update({entry.id: f"{type(exc).__name__}: {exc}" for entry in pending})
            return False
        pending = _settle(pending, taken, refused, delivery, last=attempt == max_attempts)
        on_sent(len(taken))
        if not pending:
            return True
        sleep(backoff_seconds(attempt))
    return True


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
