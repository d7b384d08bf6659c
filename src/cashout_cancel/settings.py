"""The function's settings: read from the environment once, validated, immutable."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigurationError(Exception):
    """The function's settings or a D24 secret are missing, unreadable or malformed. Its text
    names the problem (a variable, a secret's shape), never a value."""


# Every variable the function reads; a change to any of them yields new settings.
ENV_NAMES = (
    "D24_SECRET_ID",
    "D24_MERCHANT_SECRET_PREFIX",
    "MERCHANT_CACHE_SIZE",
    "D24_BASE_URL",
    "D24_TIMEOUT_SECONDS",
    "D24_CONNECT_TIMEOUT_SECONDS",
    "D24_MAX_ATTEMPTS",
    "D24_BACKOFF_BASE_SECONDS",
    "D24_BACKOFF_MAX_SECONDS",
    "SECRET_CACHE_TTL_SECONDS",
    "DEADLINE_MARGIN_MS",
    "RESULTS_EVENT_BUS",
    "BULK_CONCURRENCY",
)


@dataclass(frozen=True)
class Settings:
    """Validated configuration (docs/contract.md section 3; defaults documented in the README)."""

    # The default account's secret; None when only named accounts are served (section 11).
    secret_id: str | None
    base_url: str
    read_timeout: float = 5.0
    connect_timeout: float = 2.0
    max_attempts: int = 3
    backoff_base: float = 0.2
    backoff_max: float = 2.0
    secret_ttl: float = 300.0
    deadline_margin: float = 0.5
    # The bus for the results of EventBridge and SQS cancels (docs/contract.md section 10); None:
    # unset, and those callers' requests are refused as CONFIGURATION_ERROR before anything is sent.
    results_event_bus: str | None = None
    bulk_concurrency: int = 8  # cancels in flight at once for one SQS batch
    # Named merchant accounts (docs/contract.md section 11): the prefix of their secrets' names
    # (None: a request naming one is refused), and how many accounts' credentials are cached at
    # once.
    merchant_secret_prefix: str | None = None
    merchant_cache_size: int = 32


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """Parse and validate the environment, or raise ConfigurationError naming the variable."""
    secret_id = environ.get("D24_SECRET_ID", "").strip() or None
    prefix = environ.get("D24_MERCHANT_SECRET_PREFIX", "").strip() or None
    if secret_id is None and prefix is None:
        raise ConfigurationError("neither D24_SECRET_ID nor D24_MERCHANT_SECRET_PREFIX is set")
    base_url = _base_url(environ.get("D24_BASE_URL", "").strip())
    return Settings(
        secret_id=secret_id,
        base_url=base_url,
        read_timeout=_number(environ, "D24_TIMEOUT_SECONDS", 5.0, low=0.01, high=900),
        connect_timeout=_number(environ, "D24_CONNECT_TIMEOUT_SECONDS", 2.0, low=0.01, high=900),
        max_attempts=int(_number(environ, "D24_MAX_ATTEMPTS", 3, low=1, high=10, integer=True)),
        backoff_base=_number(environ, "D24_BACKOFF_BASE_SECONDS", 0.2, low=0, high=60),
        backoff_max=_number(environ, "D24_BACKOFF_MAX_SECONDS", 2.0, low=0, high=300),
        secret_ttl=_number(environ, "SECRET_CACHE_TTL_SECONDS", 300.0, low=0, high=86400),
        deadline_margin=_number(environ, "DEADLINE_MARGIN_MS", 500, low=0, high=60000) / 1000,
        results_event_bus=environ.get("RESULTS_EVENT_BUS", "").strip() or None,
        bulk_concurrency=int(_number(environ, "BULK_CONCURRENCY", 8, low=1, high=64, integer=True)),
        merchant_secret_prefix=prefix,
        merchant_cache_size=int(
            _number(environ, "MERCHANT_CACHE_SIZE", 32, low=1, high=10000, integer=True)
        ),
    )


def _base_url(value: str) -> str:
    if not value:
        raise ConfigurationError("D24_BASE_URL is not set")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError("D24_BASE_URL must be an https:// URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError("D24_BASE_URL must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        # Credentials travel in the body: plain HTTP is for local sandboxes only.
        raise ConfigurationError("D24_BASE_URL uses http:// for a host that is not loopback")
    return value.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    *,
    low: float,
    high: float,
    integer: bool = False,
) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number") from None
    if not low <= value <= high:  # also refuses nan
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g}")
    return value
