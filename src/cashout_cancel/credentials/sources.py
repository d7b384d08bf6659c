"""Where a secret is read from: the extension first, the SDK when the extension cannot serve, and
the SDK alone for a fresh read (after D24 refused the credentials: the extension may still hold
the old secret, docs/contract.md section 5).

Every read is bounded by the invocation's deadline, the extension by its own share of it, so that
one that stalls still leaves time to read through the SDK, and the cancel does not fail for it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, NamedTuple

from ..deadline import Deadline, TimeLimitExceeded, run_within
from ..settings import ConfigurationError
from . import extension

# The extension is asked for at most this share of the time left, and never longer than the fixed
# bound: it answers from localhost in about a millisecond once it holds the secret, and in one
# Secrets Manager round trip (tens of milliseconds) before. The template sets the extension's
# own SECRETS_MANAGER_TIMEOUT_MILLIS below the bound, so that it gives up first and says so.
EXTENSION_SHARE = 1 / 3
EXTENSION_MAX_SECONDS = 1.0


class SecretSource(StrEnum):
    """Which source served a request's secret: the result line's `secret_source`."""

    EXTENSION = "extension"
    SDK = "sdk"
    CACHE = "cache"  # the function's own cache: no read was needed


class SecretRead(NamedTuple):
    """A secret's SecretString (not yet validated), and where it was read from."""

    secret_string: Any
    source: SecretSource


class SecretSources:
    """Reads a secret through the extension when it can serve, else through the SDK."""

    def __init__(
        self,
        sdk: Callable[[str], Any],
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self._sdk = sdk  # GetSecretValue through boto3 (secrets_manager.py), imported on first use
        self._on_fallback = on_fallback  # told why an available extension did not serve

    def read(self, secret_id: str, deadline: Deadline, *, fresh: bool = False) -> SecretRead:
        """The SecretString of `secret_id`; `fresh` reads Secrets Manager itself, past every
        cache. Raises ConfigurationError when it could not be read in time (or at all)."""
        if not fresh and extension.available():
            share = min(EXTENSION_MAX_SECONDS, deadline.remaining() * EXTENSION_SHARE)
            try:
                secret = run_within(share, lambda: extension.read_secret(secret_id, share))
                return SecretRead(secret, SecretSource.EXTENSION)
            except extension.ExtensionUnavailable as problem:
                self._fell_back(str(problem))
            except TimeLimitExceeded:
                self._fell_back(f"no answer within {share:.2f} s")
        try:
            secret = run_within(deadline.remaining(), lambda: self._sdk(secret_id))
        except TimeLimitExceeded:
            raise ConfigurationError(
                "the D24 secret could not be read in time (Secrets Manager did not answer)"
            ) from None
        return SecretRead(secret, SecretSource.SDK)

    def _fell_back(self, reason: str) -> None:
        if self._on_fallback is not None:
            self._on_fallback(reason)
