"""One account's fault never changes another account's answers (docs/contract.md section 11), for
random mixes of accounts and faults, through the real handler, one SQS batch or direct invokes at a
time.

Each example makes fresh accounts, each in one state: fine; its secret missing; rotated at D24
only (Secrets Manager still holds the old credentials); rotated everywhere after the function
cached the old ones; its secret malformed. The default account runs beside them. Every answer is
checked against what the state of that account alone allows, and against what D24 holds for it:
CANCELLED exactly when D24 holds the cashout cancelled at that account, nothing sent for an
account without a usable secret. A warm container serves all the examples, as Lambda's would.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox
from local.events import sqs_event
from tests.conftest import ResultsTap
from tests.integration.merchants import (
    CASHOUTS,
    PREFIX,
    Merchants,
    count_reads,
    external_id,
    fields,
    invoke_with,
)

EXAMPLES = 100
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Each state, and the one answer (statusCode, outcome) it allows for a pending cashout.
EXPECTED = {
    "fine": (200, "CANCELLED"),
    "missing": (404, "UNKNOWN_MERCHANT"),
    "rotated-at-d24": (502, "UPSTREAM_AUTH_FAILED"),
    "rotated-everywhere": (200, "CANCELLED"),
    "malformed": (500, "CONFIGURATION_ERROR"),
}
DEFAULT = "(default)"  # the default account, always fine
WARM_CASHOUT = CASHOUTS[-1]  # cancelled before the example, to cache an account's secret
_names = itertools.count()


@pytest.fixture
def world(function_env: D24Sandbox, secrets: Any, monkeypatch: pytest.MonkeyPatch) -> Merchants:
    monkeypatch.setenv("D24_MERCHANT_SECRET_PREFIX", PREFIX)
    found = Merchants(function_env, secrets)
    count_reads(found.reads)
    return found


def arrange(world: Merchants, states: list[str]) -> list[str]:
    """Fresh accounts in `states`; their names, in order."""
    invoke = invoke_with()
    names = [f"m{next(_names)}-{state}" for state in states]
    for name, state in zip(names, states, strict=True):
        if state == "missing":
            world.add(name, secret="")
        elif state == "malformed":
            world.add(name, secret='{"login": "only"}')
        else:
            world.add(name)
            warm = invoke(fields(WARM_CASHOUT, external_id(name, WARM_CASHOUT), name))
            assert warm["outcome"] == "CANCELLED"
    for name, state in zip(names, states, strict=True):
        if state == "rotated-at-d24":
            world.rotate_at_d24(name)
        elif state == "rotated-everywhere":
            world.rotate_everywhere(name)
    return names


@st.composite
def examples(draw: Any) -> tuple[list[str], list[int], str]:
    """Account states, the requests (an index into the accounts, -1 for the default account,
    each its own cashout), and the caller."""
    states = draw(st.lists(st.sampled_from(sorted(EXPECTED)), min_size=1, max_size=4))
    requests = draw(st.lists(st.integers(-1, len(states) - 1), min_size=1, max_size=9))
    return states, requests, draw(st.sampled_from(["sqs", "direct"]))


@PROPERTY
@given(example=examples())
def test_each_account_is_answered_as_its_own_state_says_whatever_the_others_do(
    example: tuple[list[str], list[int], str], world: Merchants, results: ResultsTap
) -> None:
    states, picks, caller = example
    names = arrange(world, states)
    state_of = {**dict(zip(names, states, strict=True)), DEFAULT: "fine"}
    # Each request its own cashout: the account's next one (the default account: a fresh one)
    taken: dict[str, int] = {}
    requests: list[tuple[str, int]] = []
    for pick in picks:
        account = DEFAULT if pick < 0 else names[pick]
        cashout_id = CASHOUTS[taken.get(account, 0)]
        taken[account] = taken.get(account, 0) + 1
        if account == DEFAULT:
            cashout_id = 900_000 + next(_names)
            world.d24.add_cashout(cashout_id, f"ext-{cashout_id}")
        requests.append((account, cashout_id))
    bodies = [
        fields(c, f"ext-{c}") if a == DEFAULT else fields(c, external_id(a, c), a)
        for a, c in requests
    ]

    answers = answers_of(caller, bodies, results)

    for (account, cashout_id), answer in zip(requests, answers, strict=True):
        expected = EXPECTED[state_of[account]]
        held = world.d24.status_of(cashout_id, account=None if account == DEFAULT else account)
        # What D24 holds for this account's cashout is what the answer says
        assert held == (CANCELLED if expected[1] == "CANCELLED" else PENDING), (account, answer)
        if answer is None:  # an SQS message handed back: only a retryable answer may be
            assert expected[0] >= 500, (account, expected)
            continue
        assert (answer["statusCode"], answer["outcome"]) == expected, (account, answer)
        assert answer.get("merchant") == (None if account == DEFAULT else account)
    for name, state in zip(names, states, strict=True):
        if state in ("missing", "malformed"):
            assert world.sent_for(name) == 0, name


def answers_of(
    caller: str, bodies: list[dict[str, Any]], results: ResultsTap
) -> list[dict[str, Any] | None]:
    """The result of each request: direct invokes one by one, or one SQS batch (a published
    result, or None for a message handed back for redelivery)."""
    invoke = invoke_with()
    if caller == "direct":
        return [invoke(body) for body in bodies]
    event = sqs_event(*bodies)
    response = invoke(event)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    published = {d["request_id"]: d for d in results.details()}
    answers: list[dict[str, Any] | None] = []
    for record in event["Records"]:
        message_id = record["messageId"]
        assert (message_id in failed) != (message_id in published), message_id
        answers.append(published.get(message_id))
    return answers
