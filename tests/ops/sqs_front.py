"""An HTTP front to moto's server for the faults moto does not have: SQS throttling every
SendMessageBatch after the first few, and a batch held in flight while a test signals the tool.
Every request is otherwise passed to moto unchanged, and moto's answer back; the tool reaches it
with --endpoint-url, as it would a rehearsal endpoint."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEND_BATCH = "AmazonSQS.SendMessageBatch"
Answer = tuple[int, dict[str, str], str]  # status, headers, body
# SQS's throttling refusal in its JSON protocol: the code comes from the query-error header.
THROTTLED: Answer = (
    400,
    {"x-amzn-query-error": "RequestThrottled;Sender", "Content-Type": "application/x-amz-json-1.0"},
    json.dumps({"__type": "com.amazonaws.sqs#RequestThrottled", "message": "Rate exceeded"}),
)


class SqsFront:
    """Passes requests to `backend`, except as its fault settings say."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.throttle_after: int | None = None  # batch calls passed before all are throttled
        self.hold_batch: int | None = None  # this batch call (1-based) waits for `release`
        self.held = threading.Event()  # set once the held batch has arrived
        self.release = threading.Event()
        self.held_passed = threading.Event()  # set once the held batch has reached moto
        self.batch_calls = 0
        self._lock = threading.Lock()
        self.url = ""

    def answer(self, target: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """The status, headers and body for one request."""
        if target == SEND_BATCH:
            with self._lock:
                self.batch_calls += 1
                number = self.batch_calls
            if self.throttle_after is not None and number > self.throttle_after:
                return THROTTLED
            if number == self.hold_batch:
                self.held.set()
                self.release.wait(timeout=30)
                try:
                    return self._pass(path, headers, body)
                finally:
                    self.held_passed.set()
        return self._pass(path, headers, body)

    def _pass(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        request = urllib.request.Request(  # noqa: S310 (the loopback moto server)
            self.backend + path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as refusal:
            return refusal.code, dict(refusal.headers), refusal.read().decode()


@contextmanager
def sqs_front(backend: str) -> Iterator[SqsFront]:
    """A running front on a loopback port; its `url` is the tool's --endpoint-url."""
    front = SqsFront(backend)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            passed = {k: v for k, v in self.headers.items() if k.lower() not in {"host"}}
            status, headers, text = front.answer(
                self.headers.get("X-Amz-Target", ""), self.path, passed, body
            )
            data = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: one line per request would bury the test's output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    front.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield front
    finally:
        front.release.set()
        server.shutdown()
        server.server_close()
