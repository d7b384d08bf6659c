"""D24 credentials: loaded from Secrets Manager, validated, cached with a TTL, refreshed on demand.

A small lock-guarded cache rather than Powertools Parameters: concurrent first calls must read the
secret once, a refresh after a D24 401 must not stampede, and the cache must validate the secret's
shape before anything is signed with it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .deadline import Deadline
from .errors import ConfigurationError
from .time_limit import TimeLimitExceeded, run_within
from .withholding import Withholding

MAX_CREDENTIAL_LENGTH = 32  # D24: login and pass are at most 32 characters


@dataclass(frozen=True)
class Credentials:
    """The merchant's D24 login, pass and signing key. Never printed: repr hides every value."""

    login: str = field(repr=False)
    password: str = field(repr=False)
    secret_key: str = field(repr=False)

    @cached_property
    def withholding(self) -> Withholding:
        """The check that keeps these values, in any form, out of what D24's answers pass on."""
        return Withholding.of((self.login, self.password, self.secret_key))


def parse_secret(secret_string: Any) -> Credentials:
    """Validate the secret's JSON shape; errors name the problem, never a value."""
    if not isinstance(secret_string, str):
        raise ConfigurationError("the D24 secret has no SecretString")
    try:
        data = json.loads(secret_string)
    except ValueError:
        raise ConfigurationError("the D24 secret is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigurationError("the D24 secret must be a JSON object")
    for key in ("login", "pass", "secret_key"):
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"the D24 secret lacks a non-empty string '{key}'")
        if key != "secret_key" and len(value) > MAX_CREDENTIAL_LENGTH:
            raise ConfigurationError(f"the D24 secret's '{key}' is longer than 32 characters")
    return Credentials(login=data["login"], password=data["pass"], secret_key=data["secret_key"])


class CredentialStore:
    """Reads one secret at most once per TTL, however many threads ask at the same time.

    Every read is bounded by the invocation's deadline (time_limit.py): a Secrets Manager that
    accepts and never answers, or answers a byte at a time, costs the time left and no more, and
    the invocation still answers (CONFIGURATION_ERROR, a 500 its caller retries).
    """

    def __init__(
        self,
        secret_id: str,
        client_factory: Callable[[], Any],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._client_factory = client_factory
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._expires = 0.0

    def get(self, deadline: Deadline) -> Credentials:
        """The cached credentials, read from Secrets Manager when absent or expired."""
        cached = self._cached
        if cached is not None and self._clock() < self._expires:
            return cached
        with self._locked(deadline):
            if self._cached is not None and self._clock() < self._expires:
                return self._cached
            return self._load(deadline)

    def refresh(self, rejected: Credentials, deadline: Deadline) -> Credentials:
        """Re-read the secret after D24 refused `rejected`, unless another thread already did."""
        with self._locked(deadline):
            if self._cached is not None and self._cached != rejected:
                return self._cached
            return self._load(deadline)

    def clear(self) -> None:
        """Forget the cached value (SnapStart restore, tests)."""
        with self._lock:
            self._cached, self._expires = None, 0.0

    def _locked(self, deadline: Deadline) -> _Held:
        # Another thread may be reading a Secrets Manager that stalls: wait for it only as long
        # as this invocation has.
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise ConfigurationError("the D24 secret could not be read in time")
        return _Held(self._lock)

    def _load(self, deadline: Deadline) -> Credentials:
        try:
            secret_string = run_within(deadline.remaining(), self._read)
        except TimeLimitExceeded:
            raise ConfigurationError(
                "the D24 secret could not be read in time (Secrets Manager did not answer)"
            ) from None
        credentials = parse_secret(secret_string)
        self._cached, self._expires = credentials, self._clock() + self._ttl
        return credentials

    def _read(self) -> Any:
        # Imported here: botocore is already loaded with the client, and the handler must not pay
        # for it on paths that never reach Secrets Manager (invalid input, for one).
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client_factory().get_secret_value(SecretId=self.secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ConfigurationError(f"the D24 secret could not be read ({code})") from None
        except BotoCoreError as exc:
            raise ConfigurationError(
                f"the D24 secret could not be read ({type(exc).__name__})"
            ) from None
        return response.get("SecretString")


class _Held:
    """Releases a lock acquired with a timeout when the `with` block ends."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        self._lock.release()
