"""SnapStart, after restore: a restored copy opens its own connections and reads the secret at its
first cancel, never inheriting what the snapshot held (the hooks' pure parts:
tests/unit/test_snapstart.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cashout_cancel import container, snapstart
from tests.conftest import Invoke


def cancel_event(cashout_id: int) -> dict[str, Any]:
    """A direct invocation, the simplest event that reaches D24."""
    return {"cashout_id": cashout_id, "external_id": f"ext-{cashout_id}"}


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
