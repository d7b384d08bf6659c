"""What one Lambda container builds once and reuses across warm invocations: the settings, the
keep-alive connection pool to D24, the AWS clients, the credential cache, the cancel use case and
the result publisher."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from .cancel.service import CancelService
from .credentials.accounts import Accounts
from .credentials.secrets_manager import sdk_reader
from .credentials.sources import SecretSources
from .d24.client import D24Client
from .d24.exchange import HttpExchange
from .d24.retry import RetryPolicy
from .observability import d24_call_tracer, record_latency, secret_read_fell_back, trace_aws_sdk
from .result_events import ResultPublisher
from .settings import ENV_NAMES, Settings, load_settings

# Every AWS call is also bounded by the invocation's deadline (deadline.run_within); these keep an
# abandoned call from lingering for botocore's defaults (60 s connect and read, retried).
AWS_CONNECT_TIMEOUT = 1.0
AWS_READ_TIMEOUT = 2.0
# Connections kept alive to D24: at least one per cancel a bulk batch has in flight, or a full
# pool would discard a connection after each use.
MIN_POOL_SIZE = 10


@dataclass(frozen=True)
class Container:
    """The validated settings and everything wired to them."""

    settings: Settings
    service: CancelService
    publisher: ResultPublisher
    environment: tuple[str | None, ...]  # the variables it was built from


_lock = threading.Lock()
_exchange: HttpExchange | None = None  # the keep-alive pool, shared across settings changes
_clients: dict[str, Any] = {}
_built: Container | None = None


def current() -> Container:
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


def _build(environment: tuple[str | None, ...]) -> Container:
    global _built
    settings = load_settings()
    # Secrets through the Parameters and Secrets extension where it can serve, else the SDK.
    sources = SecretSources(sdk_reader(secrets_client), on_fallback=secret_read_fell_back)
    accounts = Accounts(
        settings.secret_id,
        settings.merchant_secret_prefix,
        sources.read,
        settings.secret_ttl,
        settings.merchant_cache_size,
    )
    client = D24Client(
        settings.base_url,
        http_exchange(pool_size=max(MIN_POOL_SIZE, settings.bulk_concurrency)),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        policy=RetryPolicy(settings.max_attempts, settings.backoff_base, settings.backoff_max),
        on_latency=record_latency,
        withheld=accounts.withheld,
        trace=d24_call_tracer(),
    )
    publisher = ResultPublisher(events_client, settings.results_event_bus)
    _built = Container(settings, CancelService(client, accounts), publisher, environment)
    return _built


def http_exchange(pool_size: int = MIN_POOL_SIZE) -> HttpExchange:
    """The one keep-alive connection pool to D24, sized when first built."""
    global _exchange
    if _exchange is None:
        _exchange = HttpExchange(pool_size)
    return _exchange


def secrets_client() -> Any:
    """The one Secrets Manager client, created on first use."""
    return _client("secretsmanager")


def events_client() -> Any:
    """The one EventBridge client (result events), created on first use."""
    return _client("events")


def _client(service: str) -> Any:
    client = _clients.get(service)
    if client is None:
        # Deferred: boto3 is the largest import of the function, and invalid requests and
        # secrets read through the extension, for two, are served without it.
        trace_aws_sdk()
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=AWS_CONNECT_TIMEOUT,
            read_timeout=AWS_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": 2},
        )
        # Only the two literal names above reach here; boto3-stubs types each name on its own.
        made = boto3.client(service, config=config)  # type: ignore[call-overload]
        client = _clients.setdefault(service, made)
    return client


def reset() -> None:
    """Forget everything built (tests; SnapStart restore uses `after_restore` instead)."""
    global _exchange, _built
    with _lock:
        if _exchange is not None:
            _exchange.close()
        _exchange, _built = None, None
        _clients.clear()
