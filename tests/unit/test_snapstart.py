"""SnapStart: the hooks build what is expensive before the snapshot without reading the secret, and
make every restored copy independent (own randomness; no inherited connections and a lazy secret
in tests/integration/test_snapstart_restore.py)."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from cashout_cancel import container, snapstart
from cashout_cancel.d24 import retry
from cashout_cancel.d24.exchange import HttpExchange
from cashout_cancel.settings import load_settings
from tests.conftest import LambdaContext

D24_BASE_URL = "https://d24.example/v3"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times settings and the HTTP connection pool were built."""
    counts = {"settings": 0, "pool": 0}

    def counted(name: str, build: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return build(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(container, "load_settings", counted("settings", load_settings))
    monkeypatch.setattr(container, "HttpExchange", counted("pool", HttpExchange))
    return counts


def cancel_event(cashout_id: int) -> dict[str, Any]:
    """A direct invocation, the simplest event that reaches D24."""
    return {"cashout_id": cashout_id, "external_id": f"ext-{cashout_id}"}


# Before the snapshot


def test_before_snapshot_builds_settings_pool_and_client_without_reading_the_secret(
    monkeypatch: pytest.MonkeyPatch, builds: dict[str, int], secret_reads: list[str]
) -> None:
    # Given a cold container with a valid environment
    monkeypatch.setenv("D24_SECRET_ID", "cashout-cancel/d24")
    monkeypatch.setenv("D24_BASE_URL", D24_BASE_URL)
    # When the runtime takes the snapshot
    snapstart.before_snapshot()
    # Then settings, pool and client exist, and later use reuses them instead of building
    assert builds == {"settings": 1, "pool": 1}
    client = container.secrets_client()
    pool = container.http_exchange()
    assert container.current().service is container.current().service
    assert container.current().settings.base_url == D24_BASE_URL
    assert builds == {"settings": 1, "pool": 1}
    assert container.secrets_client() is client
    assert container.http_exchange() is pool
    # And no secret went into the snapshot
    assert secret_reads == []


def test_before_snapshot_tolerates_a_misconfigured_environment(
    monkeypatch: pytest.MonkeyPatch, builds: dict[str, int], secret_reads: list[str]
) -> None:
    # Given no D24_SECRET_ID (answered per invocation as CONFIGURATION_ERROR)
    monkeypatch.delenv("D24_SECRET_ID", raising=False)
    # When the runtime takes the snapshot
    snapstart.before_snapshot()
    # Then it does not fail, and still builds the pool and the client
    assert builds["pool"] == 1
    assert container.secrets_client() is container.secrets_client()
    assert secret_reads == []


# After restore: randomness


def test_restored_copies_draw_different_jitter() -> None:
    # Given the jitter generator's state as the snapshot froze it
    snapshot = retry._jitter.getstate()
    # When two copies are restored from it and each runs the hook
    draws = []
    for _copy in range(2):
        retry._jitter.setstate(snapshot)
        snapstart.after_restore()
        draws.append([retry.jitter_draw() for _ in range(5)])
    # Then their backoff jitter differs
    assert draws[0] != draws[1]


def test_without_the_hook_restored_copies_would_share_jitter() -> None:
    # Given the jitter generator's state as the snapshot froze it
    snapshot = retry._jitter.getstate()
    # When two copies resume from it without the hook
    draws = []
    for _copy in range(2):
        retry._jitter.setstate(snapshot)
        draws.append([retry.jitter_draw() for _ in range(5)])
    # Then they draw the same sequence: the hazard the hook removes
    assert draws[0] == draws[1]


def test_restored_copies_reseed_the_global_random_used_by_botocore_backoff() -> None:
    # Given the module-level generator's state as the snapshot froze it
    snapshot = random.getstate()
    draws = []
    try:
        for _copy in range(2):
            random.setstate(snapshot)
            # When each restored copy runs the hook
            snapstart.after_restore()
            draws.append([random.random() for _ in range(5)])
    finally:
        random.seed()
    # Then their draws differ
    assert draws[0] != draws[1]


def test_after_restore_tolerates_a_misconfigured_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given no D24_BASE_URL
    monkeypatch.delenv("D24_BASE_URL", raising=False)
    # When the copy is restored, Then the hook does not fail
    snapstart.after_restore()
    # And the invocation answers the misconfiguration itself
    from cashout_cancel.handler import lambda_handler

    result = lambda_handler(cancel_event(1001), LambdaContext())
    assert result["outcome"] == "CONFIGURATION_ERROR"


# Registration


def test_register_is_a_no_op_without_snapshot_restore_py(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a runtime without the library (None in sys.modules makes the import fail)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    # When the handler module registers its hooks, Then nothing happens and nothing fails
    snapstart.register()


def test_register_hooks_both_with_snapshot_restore_py(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the runtime's snapshot_restore_py
    registered: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    fake = types.ModuleType("snapshot_restore_py")
    fake.register_before_snapshot = registered["before"].append  # type: ignore[attr-defined]
    fake.register_after_restore = registered["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    # When the hooks are registered
    snapstart.register()
    # Then each hook is registered once, with the right phase
    assert registered == {"before": [snapstart.before_snapshot], "after": [snapstart.after_restore]}
