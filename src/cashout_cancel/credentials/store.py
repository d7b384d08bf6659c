"""The D24 credentials of one secret: read once, validated, cached with a TTL, re-read on demand.

A small lock-guarded cache rather than Powertools Parameters: concurrent first calls read the
secret once; a refresh after D24 refused the credentials reads it once however many requests saw
the refusal (no stampede); every read, and every wait for another thread's read, is bounded by
the invocation's deadline; and the secret's shape is validated before anything is signed with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..deadline import Deadline, TimeLimitExceeded, run_within
from ..settings import ConfigurationError
from .secret import Credentials, parse_secret

# Reads a secret's SecretString by its id (the SDK's GetSecretValue; secrets_manager.py).
SecretReader = Callable[[str], Any]


class CredentialStore:
    """Reads one secret at most once per TTL, however many threads ask at the same time.

    A Secrets Manager that accepts and never answers, or answers a byte at a time, costs the time
    left and no more, and the invocation still answers (CONFIGURATION_ERROR, a 500 its caller
    retries).
    """

    def __init__(
        self,
        secret_id: str,
        read: SecretReader,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._read = read
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._expires = 0.0
        # The credentials a re-read after a refusal found unchanged in Secrets Manager, and the
        # deadline (the invocation) it was made for.
        self._reread_unchanged: tuple[Credentials, Deadline] | None = None

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
        """The secret re-read after D24 refused `rejected`: read once for all the requests that
        saw the refusal. Every read makes a new Credentials object, so `rejected` is still the
        cached one exactly when nobody has re-read the secret since it was handed out.

        A re-read that found the refused secret unchanged answers the refusals of the rest of
        its invocation (`deadline` is the invocation's) without reading again: a batch's later
        cancels start with the re-read credentials. A later invocation re-reads once more, so a
        secret rotated meanwhile is picked up."""
        with self._locked(deadline):
            if self._cached is not None and self._cached is not rejected:
                return self._cached
            held = self._reread_unchanged
            if held is not None and held[0] is rejected and held[1] is deadline:
                return rejected
            fresh = self._load(deadline)
            self._reread_unchanged = (fresh, deadline) if fresh == rejected else None
            return fresh

    def clear(self) -> None:
        """Forget the cached value (SnapStart restore, tests)."""
        with self._lock:
            self._cached, self._expires, self._reread_unchanged = None, 0.0, None

    @contextmanager
    def _locked(self, deadline: Deadline) -> Iterator[None]:
        # Another thread may be reading a Secrets Manager that stalls: wait for it only as long
        # as this invocation has.
        if not self._lock.acquire(timeout=deadline.remaining()):
            raise ConfigurationError("the D24 secret could not be read in time")
        try:
            yield
        finally:
            self._lock.release()

    def _load(self, deadline: Deadline) -> Credentials:
        try:
            secret_string = run_within(deadline.remaining(), lambda: self._read(self.secret_id))
        except TimeLimitExceeded:
            raise ConfigurationError(
                "the D24 secret could not be read in time (Secrets Manager did not answer)"
            ) from None
        credentials = parse_secret(secret_string)
        self._cached, self._expires = credentials, self._clock() + self._ttl
        return credentials
