"""Run blocking I/O for at most a given wall-clock time.

Socket timeouts bound each read or write, not a whole exchange: a server that sends one byte
every half second, a DNS look-up or a TLS handshake that stalls, or a Secrets Manager endpoint that
accepts and never answers, can hold a call far longer than any timeout it was given. Python cannot
interrupt a thread blocked in such a call, so the call runs on a worker thread and the caller
waits for it at most `seconds`; past that it stops waiting and goes on.

A call the caller stopped waiting for is abandoned: if it has not started yet it never starts (so
a late request is never sent), and `on_abandon` lets the caller release what the call holds (a
connection) so that the worker ends soon too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")

# Enough for the cancels of a bulk batch in flight at once plus calls that were abandoned and have
# not ended yet; a worker is only started when no idle one is left.
MAX_WORKERS = 64

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
    state = _Call()

    def run() -> T | None:
        if not state.start():
            return None  # abandoned before it began: never start late
        return call()

    future = _executor().submit(run)
    try:
        result = future.result(timeout=max(0.0, seconds))
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
