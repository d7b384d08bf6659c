"""Blocking calls bounded in wall-clock time: the caller never waits past the limit, and a call
given up on before it began never runs later."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from cashout_cancel.deadline import TimeLimitExceeded, run_all_within, run_within


def test_a_call_that_finishes_in_time_gives_its_result() -> None:
    assert run_within(1.0, lambda: 42) == 42


def test_a_call_that_raises_raises_to_the_caller() -> None:
    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_within(1.0, fail)


def test_a_call_that_blocks_is_given_up_at_the_limit_and_told_it_started() -> None:
    # Given a call that blocks for 2 s, and a hook to release what it holds
    released = threading.Event()
    blocker = threading.Event()

    # When it is allowed 0.2 s
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded) as exceeded:
        run_within(0.2, lambda: blocker.wait(2.0), on_abandon=released.set)

    # Then the caller goes on at the limit, knowing the call had begun, and the hook ran
    assert 0.2 <= time.monotonic() - started < 0.5
    assert exceeded.value.started is True
    assert released.is_set()
    blocker.set()


def test_a_call_given_up_on_before_it_began_never_runs() -> None:
    # Given calls given no time at all, so that some are abandoned before a worker takes them
    ran: list[int] = []
    verdicts: dict[int, bool] = {}
    for index in range(200):
        try:
            run_within(0.0, lambda index=index: ran.append(index))  # type: ignore[misc]
        except TimeLimitExceeded as exceeded:
            verdicts[index] = exceeded.started
    time.sleep(0.2)  # let any worker that took a call finish it

    # Then every call reported as not started never ran, and every one that ran was reported
    for index, started in verdicts.items():
        assert (index in ran) == started, f"call {index}: started={started}, ran={index in ran}"


def test_calls_run_side_by_side_within_one_limit_each_answering_for_itself() -> None:
    # Given three calls of 0.2 s, one that fails, and one that blocks for 2 s
    blocker = threading.Event()

    def fail() -> object:
        raise ValueError("boom")

    def slow(value: int) -> Callable[[], object]:
        def call() -> object:
            time.sleep(0.2)
            return value

        return call

    calls = [slow(1), slow(2), slow(3), fail, lambda: blocker.wait(2.0)]

    # When they are run side by side, 0.5 s allowed in all
    started = time.monotonic()
    outcomes = run_all_within(0.5, calls)
    took = time.monotonic() - started
    blocker.set()

    # Then the three are done together, the failure is its exception, the blocked one is given
    # up at the limit; the caller waited the limit, not the sum
    assert outcomes[:3] == [1, 2, 3]
    assert isinstance(outcomes[3], ValueError)
    assert isinstance(outcomes[4], TimeLimitExceeded)
    assert 0.5 <= took < 0.8
