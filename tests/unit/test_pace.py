"""The pace D24 allows a merchant account: a 429's wait holds back every request sharing it."""

from __future__ import annotations

from cashout_cancel.d24.pace import Pace


def test_a_new_pace_lets_an_attempt_start_at_once() -> None:
    assert Pace().wait() == 0.0


def test_a_hold_is_waited_out_and_never_shortened_by_a_shorter_one() -> None:
    now = [100.0]
    pace = Pace(clock=lambda: now[0])

    pace.hold(1.0)
    pace.hold(0.2)  # a later, shorter wait does not cut the longer one
    assert pace.wait() == 1.0

    now[0] = 100.6
    assert round(pace.wait(), 6) == 0.4
    pace.hold(2.0)  # a longer one extends it
    assert round(pace.wait(), 6) == 2.0

    now[0] = 103.0
    assert pace.wait() == 0.0
