"""SnapStart: the hooks build what is expensive before the snapshot without reading the secret, and
make every restored copy independent (own randomness, no inherited connections, lazy secret)."""

from __future__ import annotations

import random
import sys
import threading
import types
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from cashout_cancel import container, snapstart
from cashout_cancel.d24 import retry
from cashout_cancel.d24.exchange import HttpExchange
from cashout_cancel.settings import load_settings
from local.d24_sandbox import D24Sandbox
from tests.conftest import Invoke, LambdaContext

SECRET_READ = "before-call.secrets-manager.GetSecretValue"


@pytest.fixture
def secret_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every GetSecretValue call made by any Secrets Manager client the function creates."""
    reads: list[str] = []
    real_client = boto3.client

    def counting_client(*args: Any, **kwargs: Any) -> Any:
        client = real_client(*args, **kwargs)
        client.meta.events.register(SECRET_READ, lambda **_: reads.append("GetSecretValue"))
        return client

    monkeypatch.setattr(boto3, "client", counting_client)
    return reads


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
    function_env: D24Sandbox, builds: dict[str, int], secret_reads: list[str]
) -> None:
    # Given a cold container with a valid environment
    # When the runtime takes the snapshot
    snapstart.before_snapshot()
    # Then settings, pool and client exist, and later use reuses them instead of building
    assert builds == {"settings": 1, "pool": 1}
    client = container.secrets_client()
    pool = container.http_exchange()
    assert container.current().service is container.current().service
    assert container.current().settings.base_url == function_env.base_url
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


# After restore: connections


class _PeerRecorder(ThreadingHTTPServer):
    """An HTTP/1.1 keep-alive server that records each request's client port."""

    daemon_threads = True

    def __init__(self) -> None:
        self.ports: list[int] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                recorder.ports.append(self.client_address[1])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def peer() -> Iterator[_PeerRecorder]:
    """A local server that shows which client connection each request came on."""
    server = _PeerRecorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_restore_drops_pooled_connections_and_the_next_request_opens_a_new_one(
    peer: _PeerRecorder,
) -> None:
    # Given the function's pool holding a kept-alive connection (two requests, one socket)
    exchange = container.http_exchange()
    url = f"http://127.0.0.1:{peer.server_address[1]}/"

    def get() -> None:
        exchange.send(exchange.prepare("GET", url, {}, b""), 2.0, 2.0, 2.0)

    get()
    get()
    assert peer.ports[0] == peer.ports[1]
    adapter = exchange.adapter
    assert len(adapter.poolmanager.pools) == 1
    # When the container is restored
    snapstart.after_restore()
    # Then the pools are gone, the pool owner is the same, and the next request connects anew
    assert len(adapter.poolmanager.pools) == 0
    assert container.http_exchange() is exchange
    get()
    assert peer.ports[2] != peer.ports[0]


# After restore: the secret


def test_secret_is_read_at_the_first_cancel_after_restore_not_before(
    invoke: Invoke, secret_reads: list[str]
) -> None:
    # Given a snapshot taken and restored
    snapstart.before_snapshot()
    snapstart.after_restore()
    assert secret_reads == []
    # When the first cancel runs
    result = invoke(cancel_event(1001))
    # Then it read the secret then, once, and cancelled
    assert result["outcome"] == "CANCELLED"
    assert secret_reads == ["GetSecretValue"]
    # And a warm second cancel uses the cached secret
    invoke(cancel_event(1002))
    assert secret_reads == ["GetSecretValue"]


def test_restore_forgets_a_secret_cached_before_the_snapshot(
    invoke: Invoke, secret_reads: list[str]
) -> None:
    # Given a container that (against the rules) cached the secret before the snapshot
    invoke(cancel_event(1001))
    assert secret_reads == ["GetSecretValue"]
    # When it is restored and cancels again
    snapstart.after_restore()
    result = invoke(cancel_event(1002))
    # Then the secret was read afresh in the restored copy
    assert result["outcome"] == "CANCELLED"
    assert secret_reads == ["GetSecretValue", "GetSecretValue"]


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
