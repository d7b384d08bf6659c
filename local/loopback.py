"""The threaded HTTP server and request handler the local servers share."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackHTTPServer(ThreadingHTTPServer):
    """`with server:` serves in a daemon thread until the block ends, then stops at once."""

    daemon_threads = True
    # Stopping never waits for handler threads: one may hang on purpose or wait on a slow D24.
    block_on_close = False
    request_queue_size = 128

    def server_bind(self) -> None:
        """Bind without HTTPServer's look-up of the host's FQDN, a DNS query that stalls offline."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.socket.getsockname()[:2]

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
        self.server_close()


class LoopbackHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (kept-alive connections), no access log, and `send` for a whole answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer `status` with `body` (JSON unless `headers` give a Content-Type)."""
        headers = list(headers)
        self.send_response(status)
        if not any(name.lower() == "content-type" for name, _ in headers):
            self.send_header("Content-Type", "application/json")
        for name, value in [*headers, ("Content-Length", str(len(body)))]:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
