"""The answer never lies, not even across retries (docs/contract.md section 5), under random
faults.

Hypothesis draws a cashout (in any state, missing, or under another external_id), a caller, a
budget for each invocation, and one random script of faults for D24's cancel endpoint and another
for its status endpoint. Then the caller asks to cancel and retries the way such a caller does,
the scripts playing on across the whole sequence:

- EventBridge: Lambda's asynchronous retries re-invoke while the function raises, up to 3
  invocations in all;
- an HTTP client through API Gateway, and another Lambda invoking directly, retry a 5xx answer,
  up to 3 requests in all;
- SQS: the message is delivered again while the function hands it back as a batch item failure,
  up to the queue's receive count (5); its answer is the result it published, if any.

Every answer, intermediate or final, is held to what D24 holds when it is given:

- CANCELLED or ALREADY_CANCELLED only when D24 holds the cashout cancelled;
- NOT_FOUND only when D24 has no such cashout (with that external_id), or when D24 itself said
  so (509) before any attempt of that invocation may have applied the cancel;
- NOT_CANCELLABLE only when D24 does not hold it cancelled, and with D24's current status;
- any cashout_status reported is D24's current one;
- an "unknown" with no status (UPSTREAM_TIMEOUT, UPSTREAM_UNAVAILABLE, UPSTREAM_BAD_RESPONSE
  without cashout_status) only when the status endpoint misbehaved during that invocation (an
  interim answer before the real one, or a long description, is no excuse);
- every string passed on from D24 is at most 300 characters, and no request to the bus is over
  EventBridge's 256 KiB;
- when an invocation's own request cancelled the cashout, it says so, or gives that "unknown";
- every invocation answers before its deadline less the margin (measured), EventBridge raises
  exactly the results >= 500, and D24 only ever receives signed requests for this cashout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashout_cancel.cancel.outcomes import OUTCOME_TABLE, Outcome
from local.d24_sandbox import (
    CANCELLED,
    COMPLETED,
    DELIVERED,
    ON_HOLD,
    PENDING,
    REJECTED,
    D24Sandbox,
    Fault,
)
from local.events import sqs_event
from tests.conftest import EVENTBRIDGE_REQUEST_LIMIT, Invoke, ResultsTap
from tests.integration.via import Answer, send

CASHOUT_ID = 7001
MAX_PASSED_ON = 300  # characters of any string passed on from D24 (docs/contract.md section 4)
EXTERNAL_ID = "ext-7001"
READ_TIMEOUT = 0.15  # seconds: hangs and stalls cost this much per attempt
DRIP = 0.05  # seconds between the bytes of a dripped answer
MARGIN = 0.2  # DEADLINE_MARGIN_MS in the test environment
SCHEDULING_SLACK = 0.1  # what a loaded two-core machine may add after the margin
INVOCATIONS = 3  # Lambda's async retries (2) plus the first; the HTTP and direct callers' retries
RECEIVE_COUNT = 5  # the cancel queue's redrive policy (template.yaml)

# CI replays the same examples on every run (derandomize). Locally, NEVER_LIES_EXAMPLES raises
# the count and NEVER_LIES_RANDOM=1 draws new ones each run.
EXAMPLES = int(os.environ.get("NEVER_LIES_EXAMPLES", "30"))
NEVER_LIES = settings(
    max_examples=EXAMPLES,
    derandomize=os.environ.get("NEVER_LIES_RANDOM") != "1",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Invocation budgets: roomy, and tight enough that the status look-up has only its reserve.
BUDGETS_MS = (3000, 1200, 800)


@dataclass(frozen=True)
class Misbehaviour:
    """One fault D24 (or a proxy in front of it) plays on one request. A benign one still tells
    the truth in time (an interim answer before the real one, a long description): the status
    endpoint playing only those could tell."""

    label: str
    fault: Fault
    benign: bool = False

    def __repr__(self) -> str:
        return self.label


# D24's "no such cashout", played whatever it holds: the function may take it at its word only
# when no earlier attempt of the same invocation may have applied the cancel.
NOT_FOUND_509 = Fault.status(412, {"code": 509, "message": "Cashout not found with this ID"})
THROTTLED_429 = Fault.status(429)


MISBEHAVIOURS = (
    Misbehaviour("500", Fault.status(500)),
    Misbehaviour("503", Fault.status(503)),
    Misbehaviour("504", Fault.status(504)),
    Misbehaviour("429", THROTTLED_429),
    Misbehaviour("501", Fault.status(501)),
    Misbehaviour("reset", Fault.reset()),
    Misbehaviour("hang", Fault.hang()),
    Misbehaviour("html-502", Fault.html(502)),
    Misbehaviour("html-200", Fault.html(200)),
    Misbehaviour("empty-200", Fault.raw(200, b"")),
    Misbehaviour("truncated-200", Fault.raw(200, b'{"cashout_status": 2,')),
    Misbehaviour("redirect-302", Fault.redirect(302)),
    Misbehaviour("redirect-308", Fault.redirect(308)),
    Misbehaviour("oversized-200", Fault.oversized(100_000)),
    Misbehaviour("proxy-drips-503", Fault.drip(DRIP, part="headers", apply=False)),
    Misbehaviour("proxy-stalls", Fault.stall_after_headers(apply=False)),
    Misbehaviour("apply-then-drop", Fault.apply_then_drop()),
    Misbehaviour("apply-then-500", Fault.apply_then_status(500)),
    Misbehaviour("apply-then-503", Fault.apply_then_status(503)),
    Misbehaviour("apply-then-late", Fault.apply_then_delay(READ_TIMEOUT * 3)),
    Misbehaviour("apply-then-garbled-200", Fault.apply_then_status(200, {"result": "ok"})),
    Misbehaviour("apply-then-oversized", Fault.oversized(100_000, apply=True)),
    Misbehaviour("apply-then-drip-headers", Fault.drip(DRIP, part="headers")),
    Misbehaviour("apply-then-drip-body", Fault.drip(DRIP, part="body")),
    Misbehaviour("apply-then-stall", Fault.stall_after_headers()),
    Misbehaviour("interim-103", Fault.interim(103), benign=True),
    Misbehaviour("interim-102-then-answer", Fault.interim(102, DRIP), benign=True),
    Misbehaviour("interim-103-then-late", Fault.interim(103, READ_TIMEOUT * 3)),
    Misbehaviour("long-description", Fault.long_description(48_000), benign=True),
)
BENIGN = {m.fault for m in MISBEHAVIOURS if m.benign}
# On the cancel endpoint only: the function takes a look-up's 509 at its word (docs/contract.md
# section 5), and a cancel's when nothing of its invocation may have applied (allowed below).
ON_CANCEL_ONLY = (Misbehaviour("not-found-509", NOT_FOUND_509),)

# D24 in any state; "missing" has no such cashout, "other-external-id" has it under another one.
STATES = ("pending", "pending", "on-hold", "completed", "cancelled", "rejected", "delivered",
          "missing", "other-external-id")  # fmt: skip
STATUS_CODES = {"pending": PENDING, "completed": COMPLETED, "cancelled": CANCELLED,
                "rejected": REJECTED, "delivered": DELIVERED, "on-hold": ON_HOLD,
                "other-external-id": PENDING}  # fmt: skip
UNKNOWN = {Outcome.UPSTREAM_TIMEOUT, Outcome.UPSTREAM_UNAVAILABLE, Outcome.UPSTREAM_BAD_RESPONSE}
SAYS_CANCELLED = {Outcome.CANCELLED, Outcome.ALREADY_CANCELLED}


@dataclass(frozen=True)
class RetryingCaller:
    """A caller, how many times it tries in all, and which answers make it try again."""

    entry: str
    tries: int
    retries_on: Callable[[Answer | None], bool]


def raised(answer: Answer | None) -> bool:
    return answer is not None and answer.raised is not None


def server_error(answer: Answer | None) -> bool:
    return answer is not None and answer.status_code >= 500


def handed_back(answer: Answer | None) -> bool:
    return answer is None  # an SQS message that is a batch item failure has no answer


CALLERS = (
    RetryingCaller("eventbridge", INVOCATIONS, raised),  # Lambda re-invokes an event that raised
    RetryingCaller("api-http", INVOCATIONS, server_error),  # an HTTP client retrying a 5xx
    RetryingCaller("direct", INVOCATIONS, server_error),  # another Lambda retrying a 5xx result
    RetryingCaller("sqs", RECEIVE_COUNT, handed_back),  # SQS redelivering a batch item failure
)
MESSAGE_ID = "b1e7c0de-0000-4000-8000-000000007001"


def deliver(
    invoke: Invoke, results: ResultsTap, caller: RetryingCaller, budget_ms: int
) -> Answer | None:
    """One invocation by `caller`; its answer (for SQS: the result it published, if any)."""
    if caller.entry != "sqs":
        return send(invoke, caller.entry, CASHOUT_ID, EXTERNAL_ID, remaining_ms=budget_ms)
    before = len(results.details())
    event = sqs_event({"cashout_id": CASHOUT_ID, "external_id": EXTERNAL_ID},
                      message_ids=[MESSAGE_ID])  # fmt: skip
    failures = invoke(event, remaining_ms=budget_ms)["batchItemFailures"]
    published = results.details()[before:]
    if failures:
        assert failures == [{"itemIdentifier": MESSAGE_ID}]
        assert published == [], "a message handed back has no published result"
        return None
    [detail] = published
    assert (detail["caller"], detail["request_id"]) == ("sqs", MESSAGE_ID)
    assert detail["statusCode"] < 500, "only final results are published"
    return Answer(detail["statusCode"], detail)


@pytest.fixture
def short_timeouts(function_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", str(READ_TIMEOUT))
    monkeypatch.setenv("D24_CONNECT_TIMEOUT_SECONDS", str(READ_TIMEOUT))


def arrange(
    d24: D24Sandbox, state: str, on_cancel: list[Misbehaviour], on_status: list[Misbehaviour]
) -> None:
    d24.reset()
    if state in STATUS_CODES:
        external_id = "ext-someone-else" if state == "other-external-id" else EXTERNAL_ID
        d24.add_cashout(CASHOUT_ID, external_id, STATUS_CODES[state])
    for misbehaviour in on_cancel:
        d24.inject(misbehaviour.fault, endpoint="cancel")
    for misbehaviour in on_status:
        d24.inject(misbehaviour.fault, endpoint="status")


@pytest.mark.slow
@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.entry)
@NEVER_LIES
@given(
    state=st.sampled_from(STATES),
    on_cancel=st.lists(st.sampled_from(MISBEHAVIOURS + ON_CANCEL_ONLY), max_size=6),
    on_status=st.lists(st.sampled_from(MISBEHAVIOURS), max_size=4),
    budgets_ms=st.lists(
        st.sampled_from(BUDGETS_MS), min_size=RECEIVE_COUNT, max_size=RECEIVE_COUNT
    ),
)
def test_the_answer_never_lies_across_retries_under_random_faults(
    caller: RetryingCaller,
    state: str,
    on_cancel: list[Misbehaviour],
    on_status: list[Misbehaviour],
    budgets_ms: list[int],
    invoke: Invoke,
    d24: D24Sandbox,
    results: ResultsTap,
    short_timeouts: None,
    put_events_sizes: list[int],
) -> None:
    # Given a cashout in some state and D24 misbehaving at random on both endpoints, and a bus
    # that refuses requests over 256 KiB as EventBridge does
    arrange(d24, state, on_cancel, on_status)
    exists = state not in ("missing", "other-external-id")

    # When a caller asks to cancel it, and retries as such a caller does
    for budget_ms in budgets_ms[: caller.tries]:
        before = d24.status_of(CASHOUT_ID) if exists else None
        cancel_faults_before = len(d24.played("cancel"))
        status_faults_before = len(d24.played("status"))
        started = time.monotonic()
        answer = deliver(invoke, results, caller, budget_ms)
        took = time.monotonic() - started

        # Then every answer is true of what D24 holds when it is given, and given in time
        after = d24.status_of(CASHOUT_ID) if exists else None
        played_on_status = d24.played("status")[status_faults_before:]
        status_misbehaved = any(fault not in BENIGN for fault in played_on_status)
        d24_said_not_found = said_not_found_first(d24.played("cancel")[cancel_faults_before:])
        assert_in_time(took, budget_ms)
        if answer is not None:
            assert_true_of_d24(caller.entry, answer, exists, before, after, status_misbehaved,
                               d24_said_not_found)  # fmt: skip
            assert_bounded(answer)
        if not caller.retries_on(answer):
            break

    assert max(put_events_sizes, default=0) <= EVENTBRIDGE_REQUEST_LIMIT

    assert_d24_got_only_this_cashout(d24)


def assert_in_time(took: float, budget_ms: int) -> None:
    """Answered before the deadline less its margin (with room for scheduling), and never after
    the deadline itself."""
    assert took < budget_ms / 1000, f"answered after the deadline: {took:.3f} s of {budget_ms} ms"
    assert took < budget_ms / 1000 - MARGIN + SCHEDULING_SLACK, f"answered late: {took:.3f} s"


def said_not_found_first(played_on_cancel: list[Fault]) -> bool:
    """True when D24 answered this invocation's cancel 509 before any attempt of it may have
    applied the cancel (only 429s before it): the function takes D24 at its word then."""
    return (
        bool(played_on_cancel)
        and played_on_cancel[-1] == NOT_FOUND_509
        and all(fault == THROTTLED_429 for fault in played_on_cancel[:-1])
    )


def assert_true_of_d24(
    entry: str,
    answer: Answer,
    exists: bool,
    before: int | None,
    after: int | None,
    status_misbehaved: bool,
    d24_said_not_found: bool,
) -> None:
    outcome = Outcome(answer.body["outcome"])
    assert answer.status_code == OUTCOME_TABLE[outcome][0]
    assert (answer.raised is not None) == (entry == "eventbridge" and answer.status_code >= 500)
    if outcome in SAYS_CANCELLED:
        assert after == CANCELLED, "told cancelled, but D24 does not hold it cancelled"
    if outcome is Outcome.NOT_FOUND:
        assert not exists or d24_said_not_found, "told not found, but D24 has this cashout"
    if outcome is Outcome.NOT_CANCELLABLE:
        assert after != CANCELLED, "told not cancellable, but D24 holds it cancelled"
        assert answer.body["cashout_status"] == after, "not cancellable without D24's status"
    if answer.raised is None and "cashout_status" in answer.body:
        assert answer.body["cashout_status"] == after, "reported a status D24 does not hold"
    # A raised answer shows only its outcome (EventBridge), so this is checked for the others.
    claims_nothing = answer.raised is None and "cashout_status" not in answer.body
    if outcome in UNKNOWN and claims_nothing and exists:
        assert status_misbehaved, f"{outcome} while the status endpoint could tell"
    if exists and before != CANCELLED and after == CANCELLED:  # this invocation applied it
        allowed = SAYS_CANCELLED | (UNKNOWN if status_misbehaved else set())
        assert outcome in allowed, f"our cancel applied, yet the caller was told {outcome}"


def assert_bounded(answer: Answer) -> None:
    """Every string passed on from D24 is at most 300 characters."""
    upstream = answer.body.get("upstream") or {}
    passed_on = [answer.body.get("cashout_status_description"), upstream.get("message"),
                 upstream.get("code")]  # fmt: skip
    assert all(len(text) <= MAX_PASSED_ON for text in passed_on if isinstance(text, str))


def assert_d24_got_only_this_cashout(d24: D24Sandbox) -> None:
    for request in d24.received():
        assert request.signature_valid
        body: dict[str, Any] = request.json()
        assert (body["cashout_id"], body["external_id"]) == (CASHOUT_ID, EXTERNAL_ID)


# Fixed reproductions of what the property found, each a sequence a caller really runs.


def test_a_retry_after_a_lost_answer_is_not_told_not_cancellable(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    """The lie across retries: the first invocation applies the cancel and loses the answer
    while the status endpoint is down, and raises (right). Lambda retries; D24 now refuses with
    510 and the status endpoint is still down. The retry cannot know the first one cancelled it:
    it must not answer a final 409, which would reach the producer as "the cancel failed"."""
    # Given D24 applying and dropping the first answer, and its status endpoint down throughout
    d24.inject(Fault.apply_then_drop(), endpoint="cancel", times=3)
    d24.inject(Fault.status(503), endpoint="status", times=20)

    # When an EventBridge event is delivered, and Lambda retries it while it raises
    answers = [send(invoke, "eventbridge", 1001, "ext-1001") for _ in range(INVOCATIONS)]

    # Then every invocation raises (a retryable 5xx): none claims the cancel failed
    assert d24.status_of(1001) == CANCELLED
    assert [answer.raised is not None for answer in answers] == [True] * INVOCATIONS
    assert {answer.body["outcome"] for answer in answers} <= {o.value for o in UNKNOWN}


def test_the_retry_learns_the_truth_once_the_status_endpoint_answers(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given the first invocation's answer lost while the status endpoint fails
    d24.inject(Fault.apply_then_drop(), endpoint="cancel", times=3)
    d24.inject(Fault.status(503), endpoint="status", times=3)
    first = send(invoke, "direct", 1001, "ext-1001")
    assert first.status_code >= 500

    # When the caller retries after the status endpoint recovered
    second = send(invoke, "direct", 1001, "ext-1001")

    # Then it is told the cashout is cancelled
    assert second.body["outcome"] == "ALREADY_CANCELLED"
    assert second.body["cashout_status"] == CANCELLED


def test_unconfirmed_200_after_a_lost_answer_is_reconciled_with_the_status(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    # Given D24 applies the cancel and drops the answer, then answers the retry with an HTML 200
    d24.inject(Fault.apply_then_drop())
    d24.inject(Fault.html(200))

    # When a caller asks to cancel
    answer = send(invoke, "direct", 1001, "ext-1001")

    # Then it is told the truth D24's status holds: cancelled
    assert d24.status_of(1001) == CANCELLED
    assert answer.body["outcome"] == "CANCELLED"
