"""The retry policy as pure functions: which answers are worth another attempt, and how long to
wait before it (capped exponential backoff with full jitter)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

# docs/contract.md section 5: the transient answers. Anything else is an answer to act on.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# Restored SnapStart copies must not share one sequence, so this is re-seeded after restore.
# Backoff jitter, not cryptography: a pseudo-random generator is what it needs.
_jitter = random.Random()  # noqa: S311  # nosec B311


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts one D24 call may make and how its backoff grows."""

    max_attempts: int = 3
    backoff_base: float = 0.2
    backoff_max: float = 2.0


def is_retryable_status(http_status: int) -> bool:
    """True for the HTTP statuses that are retried (429 and the transient 5xx)."""
    return http_status in RETRYABLE_STATUSES


def backoff_delay(attempt: int, policy: RetryPolicy, draw: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based); `draw` is in [0, 1)."""
    ceiling = min(policy.backoff_max, policy.backoff_base * 2.0 ** (attempt - 1))
    return ceiling * draw


def jitter_draw() -> float:
    """A uniform draw in [0, 1) for `backoff_delay`."""
    return _jitter.random()


def reseed_jitter() -> None:
    """Give this process its own jitter sequence (after a SnapStart restore)."""
    _jitter.seed()


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait, in either form RFC 9110 allows: delta-seconds,
    or an HTTP date (`now`, epoch seconds, defaults to the clock; a date past is no wait). None
    when absent or neither form."""
    if header is None:
        return None
    try:
        value = float(header.strip())
    except ValueError:
        pass
    else:
        return value if value >= 0 else None
    try:
        date = parsedate_to_datetime(header)
    except (ValueError, TypeError, IndexError):
        return None
    if date.tzinfo is None:  # asctime carries no zone; HTTP dates are always GMT
        date = date.replace(tzinfo=UTC)
    return max(0.0, date.timestamp() - (time.time() if now is None else now))
