"""Lambda SnapStart hooks. Before the snapshot: import and build what is expensive, but never
fetch the secret into it. After restore: new jitter seed, no pooled connections inherited from the
snapshot, and the secret loads lazily on first use."""

from __future__ import annotations

import contextlib
import random
from typing import Any

from . import container
from .d24 import retry
from .settings import ConfigurationError


def before_snapshot() -> None:
    """Warm imports and build settings, session and Secrets Manager client (no secret read)."""
    container.http_exchange()  # built even when the settings are wrong: it does not depend on them
    container.secrets_client()
    # A misconfiguration is answered per invocation as CONFIGURATION_ERROR; nothing to warm then.
    with contextlib.suppress(ConfigurationError):
        container.current()


def after_restore() -> None:
    """Make this restored copy independent of every other copy of the snapshot."""
    retry.reseed_jitter()
    # The module-level generator too: botocore's retry backoff and Powertools' log sampling draw
    # from it, and the snapshot froze its state for every copy.
    random.seed()
    # Connections in the snapshot point at sockets that no longer exist (or that every restored
    # copy would share): drop them, keep the adapter, which opens new ones.
    exchange = container.http_exchange()
    _close_pools(exchange.adapter)
    exchange.close()
    with contextlib.suppress(ConfigurationError):
        container.current().service.clear_credentials()


def _close_pools(adapter: Any) -> None:
    # urllib3 2's PoolManager.clear() (what adapter.close() calls) only forgets its pools; they
    # close when garbage-collected. Close them now, so that no socket from the snapshot is used
    # again even by code that still holds a pool.
    pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
    if pools is None:
        return
    for key in pools.keys():  # noqa: SIM118 - the container refuses iteration; keys() copies
        pool = pools.get(key)
        if pool is not None:
            pool.close()


def register() -> None:
    """Register the hooks with the runtime's snapshot_restore_py, when it is there."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # not running under SnapStart (or not in Lambda): nothing to hook
        return
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
