"""What the function builds once per container and reuses across warm invocations: settings,
the HTTP connection pool, the AWS clients, the credential cache, the D24 client, the result
publisher and the pool that runs a bulk batch's cancels."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .cancel import CancelService
from .credentials import CredentialStore
from .d24_client import D24Client
from .http_exchange import HttpExchange
from .observability import record_latency
from .result_events import ResultPublisher
from .retry import RetryPolicy
from .settings import ENV_NAMES, Settings, load_settings

# Every AWS call is also bounded by the invocation's deadline (time_limit.py); these keep an
# abandoned call from lingering for botocore's defaults (60 s connect and read, retried).
DEFAULT_POOL_SIZE = 10
AWS_CONNECT_TIMEOUT = 1.0
AWS_READ_TIMEOUT = 2.0


@dataclass(frozen=True)
class Runtime:
    """The validated settings and everything wired to them."""

    settings: Settings
    service: CancelService
    publisher: ResultPublisher
    environment: tuple[str | None, ...]  # the variables it was built from


_lock = threading.Lock()
_exchange: HttpExchange | None = None  # the keep-alive pool, shared across settings changes
_clients: dict[str, Any] = {}
_bulk_pool: tuple[int, ThreadPoolExecutor] | None = None  # its size, and the pool
_built: Runtime | None = None


def current() -> Runtime:
    """The settings and the use case wired to them (raises ConfigurationError)."""
    # Re-reading a few variables costs microseconds and means a changed environment (a test, a
    # local script) is never served stale settings; in Lambda it never changes.
    environment = tuple(os.environ.get(name) for name in ENV_NAMES)
    built = _built
    if built is not None and built.environment == environment:
        return built
    with _lock:
        if _built is not None and _built.environment == environment:
            return _built
        return _build(environment)


def service() -> CancelService:
    """The cancel use case, wired to its D24 client and credential store."""
    return current().service


def _build(environment: tuple[str | None, ...]) -> Runtime:
    global _built
    settings = load_settings()
    client = D24Client(
        settings.base_url,
        http_exchange(pool_size=max(DEFAULT_POOL_SIZE, settings.bulk_concurrency)),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        policy=RetryPolicy(settings.max_attempts, settings.backoff_base, settings.backoff_max),
        on_latency=record_latency,
    )
    store = CredentialStore(settings.secret_id, secrets_client, settings.secret_ttl)
    publisher = ResultPublisher(events_client, settings.results_event_bus)
    _built = Runtime(settings, CancelService(client, store), publisher, environment)
    return _built


def http_exchange(pool_size: int = DEFAULT_POOL_SIZE) -> HttpExchange:
    """The one keep-alive connection pool to D24 (sized when first built: a bulk batch keeps
    BULK_CONCURRENCY connections open, and a full pool would discard one after each use)."""
    global _exchange
    if _exchange is None:
        _exchange = HttpExchange(pool_size)
    return _exchange


def secrets_client() -> Any:
    """The one Secrets Manager client, created on first use."""
    client = _clients.get("secretsmanager")
    if client is None:
        import boto3  # deferred: invalid requests are answered without paying for boto3

        client = boto3.client("secretsmanager", config=_aws_config())
        client = _clients.setdefault("secretsmanager", client)
    return client


def events_client() -> Any:
    """The one EventBridge client (result events), created on first use."""
    client = _clients.get("events")
    if client is None:
        import boto3

        client = _clients.setdefault("events", boto3.client("events", config=_aws_config()))
    return client


def _aws_config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=AWS_CONNECT_TIMEOUT,
        read_timeout=AWS_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": 2},
    )


def bulk_pool(size: int) -> ThreadPoolExecutor:
    """The workers that run one SQS batch's cancels, `size` at most at once (BULK_CONCURRENCY)."""
    global _bulk_pool
    with _lock:
        if _bulk_pool is None or _bulk_pool[0] != size:
            if _bulk_pool is not None:
                _bulk_pool[1].shutdown(wait=False)
            _bulk_pool = (size, ThreadPoolExecutor(size, thread_name_prefix="bulk-cancel"))
        return _bulk_pool[1]


def reset() -> None:
    """Forget everything built (tests; SnapStart restore uses `after_restore` instead)."""
    global _exchange, _bulk_pool, _built
    with _lock:
        if _exchange is not None:
            _exchange.close()
        if _bulk_pool is not None:
            _bulk_pool[1].shutdown(wait=False)
        _exchange, _bulk_pool, _built = None, None, None
        _clients.clear()
