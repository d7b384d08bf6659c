"""The pace D24 allows one merchant account: after a 429, no new request to D24 starts before the
wait it asked for (or the backoff, when it named none) is over.

D24 throttles the merchant account, not the cashout: a 429 to one cancel holds back every other
request that shares the pace (the cancels of one invocation, for one account).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pace:
    """The earliest moment a new attempt may start; safe to share across threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before = 0.0

    def hold(self, seconds: float) -> None:
        """D24 asked to wait `seconds` from now: no new attempt starts before then."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def wait(self) -> float:
        """Seconds until a new attempt may start; 0 when it may start now."""
        with self._lock:
            return max(0.0, self._not_before - self._clock())
