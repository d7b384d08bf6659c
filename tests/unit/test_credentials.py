"""Credentials: validated secret shape, TTL cache, one read under concurrency, refresh."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cashout_cancel.credentials.secret import Credentials, parse_secret
from cashout_cancel.credentials.secrets_manager import sdk_reader
from cashout_cancel.credentials.sources import SecretSources
from cashout_cancel.credentials.store import CredentialStore
from cashout_cancel.deadline import Deadline
from cashout_cancel.settings import ConfigurationError

SECRET = {"login": "the-login", "pass": "the-pass", "secret_key": "the-key"}


class CountingClient:
    """A real (moto) Secrets Manager client that counts GetSecretValue calls."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.reads = 0
        self._lock = threading.Lock()

    def get_secret_value(self, **kwargs: Any) -> Any:
        with self._lock:
            self.reads += 1
        return self.client.get_secret_value(**kwargs)


@pytest.fixture
def sm() -> Iterator[CountingClient]:
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name="d24", SecretString=json.dumps(SECRET))
        yield CountingClient(client)


def through_the_sdk(client: Any) -> Any:
    """The function's reader, with no extension in this environment: the SDK, on `client`."""
    return SecretSources(sdk_reader(lambda: client)).read


def roomy() -> Deadline:
    """A deadline that never matters in these tests."""
    return Deadline(10.0)


class StallingClient:
    """A Secrets Manager that accepts the call and answers only after `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_secret_value(self, **_: Any) -> Any:
        time.sleep(self.seconds)
        return {"SecretString": json.dumps(SECRET)}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_secret_is_read_once_and_served_from_cache(sm: CountingClient) -> None:
    store = CredentialStore("d24", through_the_sdk(sm), ttl=300)
    assert store.get(roomy()).credentials == Credentials("the-login", "the-pass", "the-key")
    assert store.get(roomy()).credentials is store.get(roomy()).credentials
    assert sm.reads == 1


def test_secret_is_read_again_after_its_ttl(sm: CountingClient) -> None:
    clock = Clock()
    store = CredentialStore("d24", through_the_sdk(sm), ttl=60, clock=clock)
    store.get(roomy())
    clock.now += 61
    store.get(roomy())
    assert sm.reads == 2


def test_concurrent_first_calls_read_the_secret_once(sm: CountingClient) -> None:
    store = CredentialStore("d24", through_the_sdk(sm), ttl=300)
    barrier = threading.Barrier(16)
    seen: list[Credentials] = []

    def ask() -> None:
        barrier.wait()
        seen.append(store.get(roomy()).credentials)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16
    assert set(seen) == {Credentials("the-login", "the-pass", "the-key")}
    assert sm.reads == 1


def test_refresh_picks_up_a_rotated_secret(sm: CountingClient) -> None:
    store = CredentialStore("d24", through_the_sdk(sm), ttl=300)
    old = store.get(roomy()).credentials
    sm.client.put_secret_value(SecretId="d24", SecretString=json.dumps({**SECRET, "pass": "new"}))
    assert store.get(roomy()).credentials == old  # cached until told otherwise
    assert store.refresh(old, roomy()).credentials.password == "new"


def test_refresh_after_another_thread_refreshed_does_not_read_again(sm: CountingClient) -> None:
    store = CredentialStore("d24", through_the_sdk(sm), ttl=300)
    old = store.get(roomy()).credentials
    sm.client.put_secret_value(SecretId="d24", SecretString=json.dumps({**SECRET, "pass": "new"}))
    fresh = store.refresh(old, roomy()).credentials
    assert store.refresh(old, roomy()).credentials is fresh
    assert sm.reads == 2


def test_missing_secret_is_a_configuration_error_naming_the_cause(sm: CountingClient) -> None:
    store = CredentialStore("no-such-secret", through_the_sdk(sm), ttl=300)
    with pytest.raises(ConfigurationError, match="ResourceNotFoundException"):
        store.get(roomy())


@pytest.mark.parametrize(
    "secret_string",
    [
        "not json",
        "[]",
        json.dumps({"login": "a", "pass": "b"}),
        json.dumps({**SECRET, "pass": 123}),
        json.dumps({**SECRET, "login": ""}),
        json.dumps({**SECRET, "login": "x" * 33}),
        None,
    ],
)
def test_malformed_secrets_are_refused_without_echoing_values(secret_string: Any) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_secret(secret_string)
    for value in SECRET.values():
        assert value not in str(raised.value)


def test_a_read_that_stalls_is_given_up_at_the_deadline() -> None:
    # Given a Secrets Manager that takes 3 s to answer
    store = CredentialStore("d24", through_the_sdk(StallingClient(3.0)), ttl=300)

    # When the credentials are asked for with 0.3 s left
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="in time"):
        store.get(Deadline(0.3))

    # Then the answer comes when the time is up, not when Secrets Manager answers
    assert time.monotonic() - started < 0.6


def test_waiting_for_another_threads_stalled_read_is_bounded_too() -> None:
    # Given one invocation stuck reading a Secrets Manager that stalls
    store = CredentialStore("d24", through_the_sdk(StallingClient(3.0)), ttl=300)
    stuck = threading.Thread(target=lambda: _swallow(lambda: store.get(Deadline(0.9))))
    stuck.start()
    time.sleep(0.05)

    # When another asks with 0.3 s left
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match="in time"):
        store.get(Deadline(0.3))

    # Then it gives up at its own deadline, not at the other's
    assert time.monotonic() - started < 0.6
    stuck.join()


def _swallow(call: Any) -> None:
    with contextlib.suppress(ConfigurationError):
        call()


def test_a_refusal_seen_by_many_threads_re_reads_an_unchanged_secret_once(
    sm: CountingClient,
) -> None:
    # Given sixteen requests that all used the cached secret, which D24 refused, while Secrets
    # Manager still holds that same secret
    store = CredentialStore("d24", through_the_sdk(sm), ttl=300)
    rejected = store.get(roomy()).credentials
    barrier = threading.Barrier(16)
    seen: list[Credentials] = []

    def refresh() -> None:
        barrier.wait()
        seen.append(store.refresh(rejected, roomy()).credentials)

    # When each of them asks for the secret to be re-read
    threads = [threading.Thread(target=refresh) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then Secrets Manager is read once more in all, and every request gets that one re-read
    assert sm.reads == 2
    assert len(seen) == 16
    assert len({id(credentials) for credentials in seen}) == 1


def test_a_re_read_that_found_the_refused_secret_unchanged_answers_the_rest_of_its_invocation(
    sm: CountingClient,
) -> None:
    # Given a refusal whose re-read, in one invocation, found the same secret in Secrets Manager
    store = CredentialStore("d24", through_the_sdk(sm), ttl=300)
    invocation = roomy()
    reread = store.refresh(store.get(invocation).credentials, invocation).credentials

    # When a later request of that invocation, which started with the re-read credentials, is
    # refused too
    again = store.refresh(reread, invocation).credentials

    # Then the secret is not read a third time (a batch's later cancels refused alike cost
    # nothing); a later invocation refused re-reads once more, and picks up a rotation
    assert again is reread
    assert sm.reads == 2
    sm.client.put_secret_value(SecretId="d24", SecretString=json.dumps({**SECRET, "pass": "new"}))
    next_invocation = roomy()
    refreshed = store.refresh(store.get(next_invocation).credentials, next_invocation)
    assert refreshed.credentials.password == "new"
    assert sm.reads == 3
