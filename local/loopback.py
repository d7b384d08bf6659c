"""The threaded HTTP server the local tools share (the D24 sandbox, the local API, the local
Lambda Runtime API)."""

from __future__ import annotations

import socketserver
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Self


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A server for loopback addresses that starts and stops at once, whatever its threads do;
    `with server:` serves in a daemon thread until the block ends."""

    daemon_threads = True
    # Stopping must not wait for handler threads: one may hang on purpose (a sandbox fault) or
    # wait on a slow D24 (the local API).
    block_on_close = False
    request_queue_size = 128

    def server_bind(self) -> None:
        """Bind without HTTPServer's look-up of the host's FQDN, a DNS query that stalls offline."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name, self.server_port = str(host), int(port)

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()
        self.server_close()
