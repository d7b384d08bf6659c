"""Credentials: validated secret shape, TTL cache, one read under concurrency, refresh."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cashout_cancel.credentials import Credentials, CredentialStore, parse_secret
from cashout_cancel.errors import ConfigurationError

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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_secret_is_read_once_and_served_from_cache(sm: CountingClient) -> None:
    store = CredentialStore("d24", lambda: sm, ttl=300)
    assert store.get() == Credentials("the-login", "the-pass", "the-key")
    assert store.get() == store.get()
    assert sm.reads == 1


def test_secret_is_read_again_after_its_ttl(sm: CountingClient) -> None:
    clock = Clock()
    store = CredentialStore("d24", lambda: sm, ttl=60, clock=clock)
    store.get()
    clock.now += 61
    store.get()
    assert sm.reads == 2


def test_concurrent_first_calls_read_the_secret_once(sm: CountingClient) -> None:
    store = CredentialStore("d24", lambda: sm, ttl=300)
    barrier = threading.Barrier(16)
    seen: list[Credentials] = []

    def ask() -> None:
        barrier.wait()
        seen.append(store.get())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 16
    assert set(seen) == {Credentials("the-login", "the-pass", "the-key")}
    assert sm.reads == 1


def test_refresh_picks_up_a_rotated_secret(sm: CountingClient) -> None:
    store = CredentialStore("d24", lambda: sm, ttl=300)
    old = store.get()
    sm.client.put_secret_value(SecretId="d24", SecretString=json.dumps({**SECRET, "pass": "new"}))
    assert store.get() == old  # cached until told otherwise
    assert store.refresh(old).password == "new"


def test_refresh_after_another_thread_refreshed_does_not_read_again(sm: CountingClient) -> None:
    store = CredentialStore("d24", lambda: sm, ttl=300)
    old = store.get()
    sm.client.put_secret_value(SecretId="d24", SecretString=json.dumps({**SECRET, "pass": "new"}))
    fresh = store.refresh(old)
    assert store.refresh(old) == fresh
    assert sm.reads == 2


def test_missing_secret_is_a_configuration_error_naming_the_cause(sm: CountingClient) -> None:
    store = CredentialStore("no-such-secret", lambda: sm, ttl=300)
    with pytest.raises(ConfigurationError, match="ResourceNotFoundException"):
        store.get()


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
