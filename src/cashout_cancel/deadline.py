"""The time an invocation has left, so that no attempt starts that cannot finish."""

from __future__ import annotations

import time
from typing import Any

# Below this an attempt cannot do useful work; it is better not to start it.
MIN_ATTEMPT_SECONDS = 0.1
# Used when the caller gives no Lambda context (local scripts): generous but bounded.
DEFAULT_BUDGET_SECONDS = 30.0


class Deadline:
    """A point in monotonic time by which the function must have answered."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    @classmethod
    def from_context(cls, context: Any, margin: float) -> Deadline:
        """The Lambda deadline less `margin` seconds kept for answering and logging."""
        return cls(_context_seconds(context) - margin)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def less(self, seconds: float) -> Deadline:
        """A deadline `seconds` earlier than this one (to keep time for work after it)."""
        earlier = Deadline(0.0)
        earlier._end = self._end - seconds
        return earlier


def status_reserve(remaining: float, attempt_limit: float) -> float:
    """Seconds the cancel attempts leave for the status look-up after them.

    A whole look-up attempt when there is time for both; otherwise half of what is left, so that
    neither the cancel nor the look-up that may have to explain it is starved.
    """
    return min(attempt_limit, remaining / 2)


def _context_seconds(context: Any) -> float:
    # A context from a local script or a test double may be anything: trust only a real number.
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    try:
        millis = remaining() if callable(remaining) else None
    except Exception:
        millis = None
    if isinstance(millis, (int, float)) and not isinstance(millis, bool):
        return float(millis) / 1000
    return DEFAULT_BUDGET_SECONDS
