"""`make api`: the function's HTTP API on localhost, as `sam local start-api` serves it but
without Docker: each request becomes the REST API proxy event (local/events.py), the handler's
proxy response the HTTP answer. What it reproduces and what it does not: docs/local.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import json
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from local.d24_sandbox import SEED_CASHOUTS, STATUS_DESCRIPTIONS, D24Sandbox
from local.events import api_rest_event
from local.function import Handler, local_function, runtime_arguments
from local.lambda_context import TIMEOUT_MS, LambdaContext
from local.loopback import LoopbackHandler, LoopbackHTTPServer

_ROUTE = re.compile(r"/cashouts/([^/]+)/cancel")
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit; the function refuses 8 KB
_TEXT_TYPES = re.compile(
    r"text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded)"
)
D24_MODES = ("down", "slow", "wrong-credentials")
SLOW_SECONDS = 6.0  # over the template's D24_TIMEOUT_SECONDS (5): every attempt times out


def request_event(
    method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The REST API proxy event for one HTTP request; other paths than the route go through a
    catch-all, so that the function's own 404 and 405 show."""
    split = urlsplit(target)
    path = unquote(split.path) or "/"
    route = _ROUTE.fullmatch(path)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    # Binary media types arrive base64-encoded, as `sam local start-api` passes them.
    text = not media_type or _TEXT_TYPES.fullmatch(media_type) is not None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        text = False
    return api_rest_event(
        route.group(1) if route else "",
        body or None,
        method=method,
        path=path,
        base64=not text,
        catch_all=route is None,
        headers=headers,
        query=split.query,
        source_ip=source_ip,
    )


def http_answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a proxy response; 502, as API Gateway answers, when it
    is malformed."""
    try:
        status, body = response["statusCode"], response.get("body") or ""
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError(status)
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        headers = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
    except (TypeError, KeyError, AttributeError, ValueError):
        return 502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}'
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    return status, headers, raw


class LocalApi(LoopbackHTTPServer):
    """`handler` behind the API on 127.0.0.1: `with LocalApi(handler) as api:` serves on `api.url`;
    one invocation at a time, as in one Lambda container, unless not `serialise`."""

    def __init__(
        self, handler: Handler, port: int = 0, *, serialise: bool = True, verbose: bool = False
    ) -> None:
        self.handler, self.serialise, self.verbose = handler, serialise, verbose
        self.timeout_seconds = TIMEOUT_MS / 1000
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _RequestHandler)

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:3000."""
        return f"http://127.0.0.1:{self.server_port}"

    def invoke(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run the handler on one event, as Lambda would, and shape its answer for HTTP."""
        context = LambdaContext(remaining_ms=self.timeout_seconds * 1000)
        with self._lock if self.serialise else contextlib.nullcontext():
            started = time.monotonic()
            try:
                response = self.handler(event, context)
            except Exception:
                # Lambda reports the error and API Gateway answers 502; the traceback is the log.
                traceback.print_exc()
                return http_answer(None)
            if time.monotonic() - started > self.timeout_seconds:
                print(f"ran past the {self.timeout_seconds:g} s timeout", file=sys.stderr)
                return http_answer(None)  # Lambda would have stopped it
        return http_answer(response)


class _RequestHandler(LoopbackHandler):
    server_version = "cashout-cancel-local-api/1.0"

    @property
    def _api(self) -> LocalApi:
        return cast(LocalApi, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        if self._api.verbose:  # one request line a call on stderr, as sam local prints
            BaseHTTPRequestHandler.log_message(self, format, *args)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the function (do_POST, do_GET, do_TRACE...): it answers 405 itself.
        if name.startswith("do_"):
            return self._forward
        raise AttributeError(name)

    def _forward(self) -> None:
        body = self._read_body()
        if body is None:
            return
        headers = list(self.headers.items())
        event = request_event(self.command, self.path, headers, body, self.client_address[0])
        status, headers, payload = self._api.invoke(event)
        request_id = event["requestContext"]["requestId"]
        self.send(status, payload, [*headers, ("x-amzn-RequestId", request_id)])

    def _read_body(self) -> bytes | None:
        """The request body, or None when it was refused (answered) or the client left."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(411, "Length Required")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._refuse(413, "Request Too Long")
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True  # the unread body must not be taken for the next request
        payload = json.dumps({"message": message}).encode()
        self.send(status, payload, [("x-amzn-RequestId", str(uuid.uuid4()))])


def misbehave(sandbox: D24Sandbox, mode: str | None) -> str:
    """Make D24 misbehave as `make api D24=<mode>` asks (docs/runbook.md); what it now does."""
    if mode == "down":
        sandbox.outage()
        return "down: every cancel answered 503, every status look-up reset"
    if mode == "slow":
        sandbox.latency = SLOW_SECONDS
        return f"slow: every answer after {SLOW_SECONDS:g} s"
    if mode == "wrong-credentials":  # D24's password changed; the secret still holds the old one
        sandbox.set_credentials(password="changed-at-d24")
        return "refusing the secret's credentials (401)"
    return "up"


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description="The cancel-cashout HTTP API on localhost.")
    parser.add_argument("--port", type=int, default=3000, help="TCP port (0 picks a free one)")
    parser.add_argument("--parallel", action="store_true", help="run invocations concurrently")
    parser.add_argument("--d24", choices=D24_MODES, help="start the D24 sandbox misbehaving")
    runtime_arguments(parser)
    args = parser.parse_args(argv)
    with local_function(verbose=True, runtime=args.runtime, build_dir=args.build_dir) as function:
        try:
            api = LocalApi(function.handler, args.port, serialise=not args.parallel, verbose=True)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            print(f"port {args.port} is in use: run make api PORT={args.port + 1}", file=sys.stderr)
            return 1
        with api:
            print(f"cashout-cancel API on {api.url}  (POST /cashouts/{{cashout_id}}/cancel)")
            d24 = misbehave(function.sandbox, args.d24)
            print(f"  D24 ({d24}): {function.environment['D24_BASE_URL']}")
            for cashout_id, cashout in SEED_CASHOUTS.items():
                description = STATUS_DESCRIPTIONS[cashout.status]
                print(f"    {cashout_id}  external_id={cashout.external_id}  {description}")
            print(
                f"try:\n  curl -X POST {api.url}/cashouts/1001/cancel"
                " -H 'content-type: application/json' -d '{\"external_id\":\"ext-1001\"}'"
            )
            print("Ctrl-C to stop.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
