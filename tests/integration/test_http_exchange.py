"""One HTTP exchange with D24, on real sockets: every answer is handled, none is followed, none is
read past 64 KiB, and none takes longer than its budget however the server sends it."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme

from cashout_cancel.d24.exchange import (
    MAX_ANSWER_BYTES,
    Answer,
    ExchangeFailed,
    Failure,
    HttpExchange,
)
from local.d24_sandbox import SANDBOX_SECRET_KEY, D24Sandbox, Fault

BODY = b'{"login":"sandbox-login","pass":"sandbox-pass","cashout_id":1001,"external_id":"ext-1001"}'
BUDGET = 0.6  # seconds an exchange may take in these tests
SLACK = 0.25  # what scheduling may add on a loaded two-core machine


@pytest.fixture
def sandbox() -> Iterator[D24Sandbox]:
    with D24Sandbox() as d24:
        yield d24


@pytest.fixture
def exchange() -> Iterator[HttpExchange]:
    pool = HttpExchange()
    yield pool
    pool.close()


def cancel(exchange: HttpExchange, base_url: str, budget: float = BUDGET) -> Answer:
    """DELETE /cashout/cancel for cashout 1001, signed as D24 expects."""
    import hashlib
    import hmac

    signature = hmac.new(SANDBOX_SECRET_KEY.encode(), BODY, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Payload-Signature": signature}
    request = exchange.prepare("DELETE", base_url + "/cashout/cancel", headers, BODY)
    return exchange.send(request, budget, connect_timeout=5.0, read_timeout=5.0)


def timed_failure(exchange: HttpExchange, base_url: str) -> tuple[ExchangeFailed, float]:
    started = time.monotonic()
    with pytest.raises(ExchangeFailed) as failed:
        cancel(exchange, base_url)
    return failed.value, time.monotonic() - started


def test_an_answer_is_read_whole_and_the_connection_kept_alive(
    exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    first = cancel(exchange, sandbox.base_url)
    second = cancel(exchange, sandbox.base_url)
    assert (first.http_status, first.complete) == (200, True)
    assert b'"cashout_status": 2' in first.body
    assert second.http_status == 412  # already cancelled
    assert len({request.client_port for request in sandbox.received()}) == 1
    assert sandbox.received()[0].body == BODY  # the exact bytes given


@pytest.mark.parametrize("http_status", [301, 302, 303, 307, 308])
def test_a_redirect_is_an_answer_and_is_never_followed(
    http_status: int, exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    # Given D24 (or a proxy) redirecting the cancel elsewhere
    sandbox.inject(Fault.redirect(http_status, location=sandbox.base_url + "/cashout/status"))

    # When the cancel is sent
    answer = cancel(exchange, sandbox.base_url)

    # Then the redirect is the answer, and nothing went to the Location
    assert answer.http_status == http_status
    assert [request.endpoint for request in sandbox.received()] == ["cancel"]


def test_an_oversized_answer_is_read_only_to_the_limit(
    exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    # Given D24 answering 5 MiB
    sandbox.inject(Fault.oversized(5 * 1024 * 1024))

    # When the cancel is sent
    answer = cancel(exchange, sandbox.base_url, budget=5.0)

    # Then 64 KiB is kept, and the answer says it is not all of it
    assert answer.complete is False
    assert len(answer.body) == MAX_ANSWER_BYTES
    # And the next exchange opens a clean connection rather than reading the rest
    assert cancel(exchange, sandbox.base_url).http_status == 200


@pytest.mark.parametrize("interim", [102, 103])
def test_an_interim_answer_is_read_past_to_the_final_one_and_the_connection_kept_alive(
    interim: int, exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    # Given D24 sending an interim answer, and its real one a moment later
    sandbox.inject(Fault.interim(interim, seconds=0.2))

    # When the cancel is sent, and then again on the kept-alive connection
    first = cancel(exchange, sandbox.base_url)
    second = cancel(exchange, sandbox.base_url)

    # Then each exchange gets its own final answer: the confirmation, then the refusal
    assert (first.http_status, first.complete) == (200, True)
    assert b'"cashout_status": 2' in first.body
    assert (second.http_status, b'"code": 510' in second.body) == (412, True)
    assert len({request.client_port for request in sandbox.received()}) == 1


def test_a_connection_whose_answer_was_not_final_is_never_reused(
    exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    # Given a server switching protocols (101) on the cancel, and sending its real answer after
    sandbox.inject(Fault.interim(101, seconds=0.1))

    # When the cancel is sent, and then again
    first = cancel(exchange, sandbox.base_url)
    second = cancel(exchange, sandbox.base_url)

    # Then the 101 is the (unclear) answer, and the next exchange reads its own answer on a new
    # connection, never what was left on the first one
    assert first.http_status == 101
    assert (second.http_status, b'"code": 510' in second.body) == (412, True)
    assert len({request.client_port for request in sandbox.received()}) == 2


@pytest.mark.parametrize(
    "fault",
    [
        Fault.drip(0.1, part="headers"),
        Fault.drip(0.1, part="body"),
        Fault.drip(0.1, part="headers", apply=False),
        Fault.stall_after_headers(),
        Fault.hang(),
        Fault.apply_then_delay(3.0),
        Fault.interim(103, seconds=3.0),
    ],
    ids=[
        "drip-headers",
        "drip-body",
        "proxy-drips-503",
        "stall-after-headers",
        "hang",
        "late",
        "interim-then-late",
    ],
)
def test_a_slow_answer_is_cut_at_the_budget_as_a_timeout_that_may_have_applied(
    fault: Fault, exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    # Given D24 sending its answer slower than the budget allows, a byte at a time or not at all
    sandbox.inject(fault)

    # When the cancel is sent with a read timeout far longer than the budget
    failed, took = timed_failure(exchange, sandbox.base_url)

    # Then the exchange ends at its budget, as a timeout whose request may have been applied
    assert (failed.failure, failed.may_have_reached) == (Failure.TIMEOUT, True)
    assert BUDGET <= took < BUDGET + SLACK
    # And the next exchange still works
    sandbox.clear_faults()
    assert cancel(exchange, sandbox.base_url, budget=2.0).http_status in (200, 412)


def test_a_refused_connection_never_carried_the_request(exchange: HttpExchange) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    failed, _ = timed_failure(exchange, f"http://127.0.0.1:{port}/v3")
    assert (failed.failure, failed.may_have_reached) == (Failure.CONNECTION, False)


def test_a_reset_after_sending_may_have_reached_d24(
    exchange: HttpExchange, sandbox: D24Sandbox
) -> None:
    sandbox.inject(Fault.apply_then_drop())
    failed, _ = timed_failure(exchange, sandbox.base_url)
    assert (failed.failure, failed.may_have_reached) == (Failure.CONNECTION, True)


# TLS: a certificate the client does not trust is refused, and that is not a transient failure.


class _Silent(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_DELETE(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def untrusted_tls_server() -> Iterator[str]:
    """An HTTPS server on loopback whose certificate comes from a CA nobody trusts."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Silent)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_untrusted_certificate_is_a_tls_failure_before_anything_is_sent(
    exchange: HttpExchange, untrusted_tls_server: str
) -> None:
    failed, _ = timed_failure(exchange, untrusted_tls_server)
    assert (failed.failure, failed.may_have_reached) == (Failure.TLS_VERIFICATION, False)


class _CountingTLSServer(ThreadingHTTPServer):
    """An HTTPS server that counts the connections clients open (handshakes attempted)."""

    daemon_threads = True
    accepted = 0

    def get_request(self) -> tuple[socket.socket, Any]:
        self.accepted += 1
        return super().get_request()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the refused handshakes are the point


def test_a_d24_whose_certificate_fails_is_unavailable_and_never_retried(
    function_env: D24Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cashout_cancel.handler import lambda_handler
    from tests.conftest import LambdaContext

    # Given D24 behind a certificate nobody trusts
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = _CountingTLSServer(("127.0.0.1", 0), _Silent)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    monkeypatch.setenv("D24_BASE_URL", f"https://127.0.0.1:{server.server_address[1]}/v3")
    try:
        # When a caller asks to cancel
        result = lambda_handler({"cashout_id": 1001, "external_id": "ext-1001"}, LambdaContext())
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    # Then it is unavailable, with one handshake for the cancel and one for the status look-up:
    # a refused certificate is not transient, so neither is retried
    assert (result["statusCode"], result["outcome"]) == (502, "UPSTREAM_UNAVAILABLE")
    assert "certificate" in result["message"]
    assert server.accepted == 2
