"""The retry policy: which answers are retried, and the backoff schedule."""

import pytest

from cashout_cancel.d24.retry import (
    RetryPolicy,
    backoff_delay,
    is_retryable_status,
    jitter_draw,
    retry_after_seconds,
)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 412, 501, 505])
def test_answers_to_act_on_are_not_retried(status: int) -> None:
    assert not is_retryable_status(status)


def test_backoff_doubles_per_attempt_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=6, backoff_base=0.1, backoff_max=0.5)
    ceilings = [backoff_delay(attempt, policy, draw=0.999999) for attempt in range(1, 6)]
    assert ceilings == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5], abs=1e-5)


def test_full_jitter_scales_the_ceiling() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=10.0)
    assert backoff_delay(2, policy, draw=0.0) == 0.0
    assert backoff_delay(2, policy, draw=0.25) == pytest.approx(0.5)


def test_jitter_draws_are_uniform_in_unit_interval() -> None:
    draws = [jitter_draw() for _ in range(200)]
    assert all(0.0 <= draw < 1.0 for draw in draws)
    assert len(set(draws)) > 190


@pytest.mark.parametrize(
    ("header", "expected"), [("2", 2.0), (" 0.5 ", 0.5), (None, None), ("soon", None), ("-1", None)]
)
def test_retry_after_in_seconds_is_understood(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header) == expected


# 1994-11-06T08:49:37Z, the example date of RFC 9110 section 5.6.7, as epoch seconds.
EXAMPLE_DATE = 784111777.0


@pytest.mark.parametrize(
    "header",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"],
    ids=["imf-fixdate", "rfc850", "asctime"],
)
def test_retry_after_as_an_http_date_is_the_time_until_that_date(header: str) -> None:
    assert retry_after_seconds(header, now=EXAMPLE_DATE - 2.4) == pytest.approx(2.4)


def test_retry_after_as_a_date_in_the_past_is_no_wait() -> None:
    assert retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", now=EXAMPLE_DATE + 60) == 0.0


def test_retry_after_that_is_neither_seconds_nor_a_date_is_ignored() -> None:
    assert retry_after_seconds("Sun, 32 Nov 1994 08:49:37 GMT", now=EXAMPLE_DATE) is None
