"""The time an invocation has left, and blocking calls held to it.

`Deadline` is the point by which the function must have answered (the Lambda deadline less a
margin). `run_within` runs a blocking call for at most the time left: socket timeouts bound each
read or write, not a whole call, so a DNS look-up or a TLS handshake that stalls, or a Secrets
Manager endpoint that accepts and never answers, could otherwise hold an invocation far past its
deadline. Python cannot interrupt a thread blocked in such a call, so the call runs on a worker
thread and the caller waits for it at most the time given; past that it goes on without it.

A call the caller stopped waiting for is abandoned: if it has not started yet it never starts (so
a late request is never sent), and `on_abandon` lets the caller release what the call holds (a
connection) so that the worker ends soon too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")

# Below this an attempt cannot do useful work; it is better not to start it.
MIN_ATTEMPT_SECONDS = 0.1
# Used when the caller gives no Lambda context (local scripts): generous but bounded.
DEFAULT_BUDGET_SECONDS = 30.0
# Enough for the cancels of a bulk batch in flight at once plus calls that were abandoned and have
# not ended yet; a worker is only started when no idle one is left.
MAX_WORKERS = 64


class Deadline:
    """A point in monotonic time by which the function must have answered."""

    def __init__(self, seconds: float) -> None:
        self.span = seconds  # the time it was given when it was made
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
        return Deadline(self._end - seconds - time.monotonic())


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


_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


class TimeLimitExceeded(Exception):
    """The call did not finish in the time it was given; `started` says whether it began."""

    def __init__(self, started: bool) -> None:
        super().__init__("the call did not finish in the time it was given")
        self.started = started


class _Call:
    """One call's lifecycle, shared by the caller and the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = False
        self.abandoned = False

    def start(self) -> bool:
        """Mark the call started, unless the caller already gave up on it."""
        with self._lock:
            if self.abandoned:
                return False
            self.started = True
            return True

    def abandon(self) -> bool:
        """Give up on the call; returns whether it had started."""
        with self._lock:
            self.abandoned = True
            return self.started


def run_within(
    seconds: float, call: Callable[[], T], on_abandon: Callable[[], None] | None = None
) -> T:
    """The result of `call()`, or TimeLimitExceeded once `seconds` have passed without one.

    Exceptions raised by `call` reach the caller unchanged.
    """
    state, future = _submit(call)
    return _wait(state, future, time.monotonic() + max(0.0, seconds), on_abandon)


def run_all_within(seconds: float, calls: Sequence[Callable[[], T]]) -> list[T | Exception]:
    """The calls run side by side, for at most `seconds` in all: for each, its result, or the
    exception it raised, or TimeLimitExceeded when it did not finish in time."""
    end = time.monotonic() + max(0.0, seconds)
    started = [_submit(call) for call in calls]
    outcomes: list[T | Exception] = []
    for state, future in started:
        try:
            outcomes.append(_wait(state, future, end, None))
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def _submit(call: Callable[[], T]) -> tuple[_Call, Future[T | None]]:
    state = _Call()

    def run() -> T | None:
        if not state.start():
            return None  # abandoned before it began: never start late
        return call()

    return state, _executor().submit(run)


def _wait(
    state: _Call, future: Future[T | None], end: float, on_abandon: Callable[[], None] | None
) -> T:
    try:
        result = future.result(timeout=max(0.0, end - time.monotonic()))
    except FutureTimeout:
        started = state.abandon()
        if future.cancel():
            started = False
        if on_abandon is not None:
            on_abandon()
        raise TimeLimitExceeded(started) from None
    return result  # type: ignore[return-value]  # None only when abandoned, which raised


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="bounded-io")
    return _pool
