"""Many threads invoking one cold handler at once (docs/contract.md section 5: created once,
cached).

The first calls race to build the settings, the HTTP session, the Secrets Manager client and
the credential cache; a rotated secret makes every thread meet a 401 at once. Every result
must be right, the secret read once (once more after a rotation), and each cashout cancelled
exactly once. Secrets Manager reads are counted by a botocore event hook on the session the
function's own client is created from, so the client is still created cold, by the function.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from local.d24_sandbox import CANCELLED, D24Sandbox
from tests.conftest import LOGIN, SECRET_ID, LambdaContext
from tests.integration.via import ENTRIES, Answer, answer_of, event_for

THREADS = 16

# The Metrics object is per process, as Powertools intends: with threads, one invocation's flush
# publishes another's metrics and the other then warns it has none. Lambda never runs two
# invocations in one process at once; the results and the caches are what these tests judge.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


class SecretsManagerCalls:
    """Counts what every client created from this session does (hooked before any exists)."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        session.events.register("creating-client-class.secrets-manager", self._count("clients"))
        session.events.register("before-call.secrets-manager.GetSecretValue", self._count("reads"))

    def _count(self, name: str) -> Callable[..., None]:
        def count(**_: Any) -> None:
            with self._lock:
                self.counts[name] += 1

        return count


@pytest.fixture
def secrets_manager_calls(
    function_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> SecretsManagerCalls:
    """A fresh default boto3 session, hooked, for the function's client to be created from."""
    session = boto3.session.Session(region_name="us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    return SecretsManagerCalls(session)


def all_at_once(requests: list[tuple[str, int, str]]) -> list[Answer]:
    """Invoke the real handler once per request, every thread released at the same instant."""
    from cashout_cancel.handler import lambda_handler

    start = threading.Barrier(len(requests))

    def one(request: tuple[str, int, str]) -> Answer:
        entry, cashout_id, external_id = request
        event = event_for(entry, cashout_id, external_id)
        start.wait()
        return answer_of(lambda_handler(event, LambdaContext()))

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(one, requests))


def pending_cashouts(d24: D24Sandbox, first: int = 8001) -> list[tuple[str, int, str]]:
    """THREADS new pending cashouts, spread over the four callers."""
    requests = []
    for index in range(THREADS):
        cashout_id = first + index
        d24.add_cashout(cashout_id, f"ext-{cashout_id}")
        requests.append((ENTRIES[index % len(ENTRIES)], cashout_id, f"ext-{cashout_id}"))
    return requests


def test_cold_handler_called_by_many_threads_reads_the_secret_once_and_cancels_each(
    d24: D24Sandbox, secrets_manager_calls: SecretsManagerCalls
) -> None:
    # Given a cold function and sixteen pending cashouts
    requests = pending_cashouts(d24)

    # When sixteen callers ask to cancel them at the same instant
    answers = all_at_once(requests)

    # Then each is cancelled, once, and the secret was read once by one client
    assert [(a.status_code, a.body["outcome"]) for a in answers] == [(200, "CANCELLED")] * THREADS
    assert [a.body["cashout_id"] for a in answers] == [cashout_id for _, cashout_id, _ in requests]
    assert secrets_manager_calls.counts == {"clients": 1, "reads": 1}
    cancelled = Counter(request.json()["cashout_id"] for request in d24.received("cancel"))
    assert cancelled == {cashout_id: 1 for _, cashout_id, _ in requests}
    assert all(d24.status_of(cashout_id) == CANCELLED for _, cashout_id, _ in requests)


def test_many_threads_cancelling_one_cashout_are_told_cancelled_once(
    d24: D24Sandbox, secrets_manager_calls: SecretsManagerCalls
) -> None:
    # Given a cold function and one pending cashout
    requests = [(ENTRIES[i % len(ENTRIES)], 1001, "ext-1001") for i in range(THREADS)]

    # When sixteen callers ask to cancel it at the same instant
    answers = all_at_once(requests)

    # Then exactly one is told CANCELLED, every other ALREADY_CANCELLED, all with D24's status
    outcomes = Counter(answer.body["outcome"] for answer in answers)
    assert outcomes == {"CANCELLED": 1, "ALREADY_CANCELLED": THREADS - 1}
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.body["cashout_status"] for answer in answers} == {CANCELLED}
    assert d24.status_of(1001) == CANCELLED
    assert secrets_manager_calls.counts["reads"] == 1


def test_a_rotated_secret_met_by_many_threads_at_once_is_re_read_once(
    d24: D24Sandbox, secrets: Any, secrets_manager_calls: SecretsManagerCalls
) -> None:
    # Given a warm function whose cached secret was just rotated, at D24 and in Secrets Manager
    assert all_at_once([("direct", 1005, "ext-1005")])[0].body["outcome"] == "CANCELLED"
    d24.set_credentials(password="rotated-pass")
    rotated = {"login": LOGIN, "pass": "rotated-pass", "secret_key": d24.credentials["secret_key"]}
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(rotated))
    requests = pending_cashouts(d24)

    # When sixteen callers meet D24's 401 at the same instant
    answers = all_at_once(requests)

    # Then all are cancelled, and the secret was read once more in all (no stampede)
    assert [a.body["outcome"] for a in answers] == ["CANCELLED"] * THREADS
    assert secrets_manager_calls.counts["reads"] == 2
    assert all(d24.status_of(cashout_id) == CANCELLED for _, cashout_id, _ in requests)
