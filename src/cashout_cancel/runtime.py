"""What the function builds once per container and reuses across warm invocations: settings,
the HTTP connection pool, the Secrets Manager client, the credential cache, the D24 client."""

from __future__ import annotations

import os
import threading
from typing import Any

from .cancel import CancelService
from .credentials import CredentialStore
from .d24_client import D24Client
from .http_exchange import HttpExchange
from .observability import record_latency
from .retry import RetryPolicy
from .settings import ENV_NAMES, Settings, load_settings

SECRETS_CONNECT_TIMEOUT = 1.0
SECRETS_READ_TIMEOUT = 2.0

_lock = threading.Lock()
_exchange: HttpExchange | None = None  # the keep-alive pool, shared across settings changes
_secrets_client: Any = None
_built: tuple[tuple[str | None, ...], Settings, CancelService] | None = None


def _environment_key() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in ENV_NAMES)


def current() -> tuple[Settings, CancelService]:
    """The validated settings and the cancel use case wired to them (raises ConfigurationError)."""
    built = _current()
    return built[1], built[2]


def service() -> CancelService:
    """The cancel use case, wired to its D24 client and credential store."""
    return _current()[2]


def _current() -> tuple[tuple[str | None, ...], Settings, CancelService]:
    # Re-reading a few variables costs microseconds and means a changed environment (a test, a
    # local script) is never served stale settings; in Lambda the key never changes.
    key = _environment_key()
    built = _built
    if built is not None and built[0] == key:
        return built
    with _lock:
        if _built is not None and _built[0] == key:
            return _built
        return _build(key)


def _build(key: tuple[str | None, ...]) -> tuple[tuple[str | None, ...], Settings, CancelService]:
    global _built
    current = load_settings()
    client = D24Client(
        current.base_url,
        http_exchange(),
        connect_timeout=current.connect_timeout,
        read_timeout=current.read_timeout,
        policy=RetryPolicy(current.max_attempts, current.backoff_base, current.backoff_max),
        on_latency=record_latency,
    )
    store = CredentialStore(current.secret_id, secrets_client, current.secret_ttl)
    _built = (key, current, CancelService(client, store))
    return _built


def http_exchange() -> HttpExchange:
    """The one keep-alive connection pool to D24."""
    global _exchange
    if _exchange is None:
        _exchange = HttpExchange()
    return _exchange


def secrets_client() -> Any:
    """The one Secrets Manager client, created on first use."""
    global _secrets_client
    if _secrets_client is None:
        import boto3  # deferred: invalid requests are answered without paying for boto3
        from botocore.config import Config

        # Every read is also bounded by the invocation's deadline (credentials.py); these keep an
        # abandoned read from lingering for botocore's defaults (60 s connect and read, retried).
        config = Config(
            connect_timeout=SECRETS_CONNECT_TIMEOUT,
            read_timeout=SECRETS_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
        _secrets_client = boto3.client("secretsmanager", config=config)
    return _secrets_client


def reset() -> None:
    """Forget everything built (tests; SnapStart restore uses `after_restore` instead)."""
    global _exchange, _secrets_client, _built
    with _lock:
        if _exchange is not None:
            _exchange.close()
        _exchange, _secrets_client, _built = None, None, None
