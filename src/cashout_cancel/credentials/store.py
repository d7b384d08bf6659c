"""The D24 credentials of one secret: read once, validated, cached with a TTL, re-read on demand.

A small lock-guarded cache rather than Powertools Parameters: concurrent first calls read the
secret once; a refresh after D24 refused the credentials reads it once however many requests saw
the refusal (no stampede), past every cache; every read (the reader bounds it), and every wait
for another thread's read, is bounded by the invocation's deadline; and the secret's shape is
validated before anything is signed with it. Where a read goes is the reader's business
(sources.py): the store says only whether it must be fresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, Protocol

from ..deadline import Deadline
from ..settings import ConfigurationError
from .secret import Credentials, parse_secret
from .sources import SecretRead, SecretSource


class SecretReader(Protocol):
    """Reads a secret's SecretString by its id within the deadline (`fresh`: past every cache);
    raises ConfigurationError when it cannot (sources.py: SecretSources.read)."""

    def __call__(self, secret_id: str, deadline: Deadline, *, fresh: bool) -> SecretRead: ...


class Fetched(NamedTuple):
    """Credentials, and where they came from this time (`SecretSource.CACHE`: no read)."""

    credentials: Credentials
    source: SecretSource


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

    @property
    def loaded(self) -> Credentials | None:
        """The credentials last read, expired or not (what answers must withhold), or None."""
        return self._cached

    def get(self, deadline: Deadline) -> Fetched:
        """The cached credentials, read when absent or expired."""
        cached = self._cached
        if cached is not None and self._clock() < self._expires:
            return Fetched(cached, SecretSource.CACHE)
        with self._locked(deadline):
            if self._cached is not None and self._clock() < self._expires:
                return Fetched(self._cached, SecretSource.CACHE)
            return self._load(deadline, fresh=False)

    def refresh(self, rejected: Credentials, deadline: Deadline) -> Fetched:
        """The secret re-read from Secrets Manager itself after D24 refused `rejected`: read once
        for all the requests that saw the refusal. Every read makes a new Credentials object, so
        `rejected` is still the cached one exactly when nobody has re-read the secret since it
        was handed out.

        A re-read that found the refused secret unchanged answers the refusals of the rest of
        its invocation (`deadline` is the invocation's) without reading again: a batch's later
        cancels start with the re-read credentials. A later invocation re-reads once more, so a
        secret rotated meanwhile is picked up."""
        with self._locked(deadline):
            if self._cached is not None and self._cached is not rejected:
                return Fetched(self._cached, SecretSource.CACHE)
            held = self._reread_unchanged
            if held is not None and held[0] is rejected and held[1] is deadline:
                return Fetched(rejected, SecretSource.CACHE)
            fresh = self._load(deadline, fresh=True)
            unchanged = fresh.credentials == rejected
            self._reread_unchanged = (fresh.credentials, deadline) if unchanged else None
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

    def _load(self, deadline: Deadline, fresh: bool) -> Fetched:
        read = self._read(self.secret_id, deadline, fresh=fresh)
        credentials = parse_secret(read.secret_string)
        self._cached, self._expires = credentials, self._clock() + self._ttl
        return Fetched(credentials, read.source)
