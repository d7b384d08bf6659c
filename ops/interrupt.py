"""Ctrl-C (SIGINT) and SIGTERM during a command: stop cleanly, after the call in flight.

The first signal is only noted: the command finishes the AWS call in flight, records what it
learned (the send's journal), stops before the next call, prints its summary and exits with
128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports a process the
signal ended. A second signal stops at once (KeyboardInterrupt): the call in flight may then have
been taken without the tool learning so, and the summary says which lines.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, TextIO

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While entered, SIGINT and SIGTERM ask the command to stop; call it to know if one did."""

    def __init__(self, err: TextIO = sys.stderr) -> None:
        self.received: signal.Signals | None = None
        self._err = err
        self._previous: dict[signal.Signals, Any] = {}

    def __call__(self) -> bool:
        """True once a signal asked the command to stop."""
        return self.received is not None

    @property
    def name(self) -> str:
        """The first signal's name (SIGINT, SIGTERM)."""
        return self.received.name if self.received else "nothing"

    @property
    def exit_status(self) -> int:
        """128 + the number of the first signal received."""
        return 128 + (self.received or signal.SIGINT)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signal.Signals(number)
        print(
            f"{self.received.name}: stopping after the call in flight (again to stop at once)",
            file=self._err,
        )

    def __enter__(self) -> StopSignals:
        # Python lets only the main thread set handlers; elsewhere signals keep their default.
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
