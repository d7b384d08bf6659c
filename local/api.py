"""The function's HTTP API on localhost, as `sam local start-api` serves it but without Docker.

Each HTTP request becomes the REST API (payload v1) proxy event that the template's API Gateway
sends; the handler's proxy response becomes the HTTP answer. By default a D24 sandbox and a local
Secrets Manager (moto, in-process) start too, so `python -m local.api` (`make api`) needs nothing
else. Invocations run one at a time by default, as in one Lambda container (see LocalApi).

Run it with ``python -m local.api --port 3000``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from local.d24_sandbox import (
    SANDBOX_LOGIN,
    SANDBOX_PASSWORD,
    SANDBOX_SECRET_KEY,
    SEED_CASHOUTS,
    STATUS_DESCRIPTIONS,
    D24Sandbox,
)
from local.function_env import FUNCTION_ENV
from local.lambda_context import LambdaContext
from local.loopback import LoopbackHTTPServer

Handler = Callable[[dict[str, Any], Any], Any]

STAGE = "v1"  # the template's StageName
TIMEOUT_SECONDS = 20.0  # the template's function Timeout
LOCAL_SECRET_ID = "cashout-cancel/d24-local"
SANDBOX_CREDENTIALS = {
    "login": SANDBOX_LOGIN,
    "pass": SANDBOX_PASSWORD,
    "secret_key": SANDBOX_SECRET_KEY,
}
RESOURCE = "/cashouts/{cashout_id}/cancel"
_ROUTE = re.compile(r"/cashouts/([^/]+)/cancel")
# API Gateway's payload limit; the handler refuses far smaller bodies itself.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
_GATEWAY_ERROR = (502, {"message": "Internal server error"})  # what API Gateway answers then
_TEXT_TYPES = re.compile(
    r"text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded)"
)


def rest_event(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str = "127.0.0.1",
    stage: str = STAGE,
) -> dict[str, Any]:
    """The REST API (payload v1) proxy event API Gateway builds for one HTTP request."""
    split = urlsplit(target)
    path = unquote(split.path) or "/"
    resource, path_parameters = _resource(path)
    query = parse_qsl(split.query, keep_blank_values=True)
    request_id = str(uuid.uuid4())
    user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
    now = datetime.now(UTC)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        # API Gateway keeps the last value of a repeated header or query parameter here...
        "headers": dict(headers) or None,
        # ...and all of them here.
        "multiValueHeaders": _multi(headers) or None,
        "queryStringParameters": dict(query) or None,
        "multiValueQueryStringParameters": _multi(query) or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{stage}{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "domainName": "localhost",
            "requestId": request_id,
            "apiId": "local",
            # IAM auth fills accessKey, caller, user and userArn; nothing signs locally.
            "identity": {
                "sourceIp": source_ip,
                "userAgent": user_agent,
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "principalOrgId": None,
            },
        },
        **_event_body(headers, body),
    }


def _resource(path: str) -> tuple[str, dict[str, str] | None]:
    match = _ROUTE.fullmatch(path)
    if match is not None:
        return RESOURCE, {"cashout_id": match.group(1)}
    if path == "/":
        return "/", None
    # Every other path reaches the function through a catch-all, so that its own 404/405 show.
    return "/{proxy+}", {"proxy": path.lstrip("/")}


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


def _event_body(headers: Sequence[tuple[str, str]], body: bytes) -> dict[str, Any]:
    if not body:
        return {"body": None, "isBase64Encoded": False}
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not media_type or _TEXT_TYPES.fullmatch(media_type):
        with contextlib.suppress(UnicodeDecodeError):
            return {"body": body.decode("utf-8"), "isBase64Encoded": False}
    # Binary media types arrive base64-encoded, as `sam local start-api` passes them.
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


def http_answer(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body bytes of a proxy response; 502 when it is malformed."""
    if not isinstance(response, dict):
        return _gateway_error()
    status = response.get("statusCode")
    body = response.get("body") or ""
    if isinstance(status, bool) or not isinstance(status, int) or not isinstance(body, str):
        return _gateway_error()
    headers = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values if (name, str(v)) not in headers]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway's default
    try:
        raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    except ValueError:
        return _gateway_error()
    return status, headers, raw


def _gateway_error() -> tuple[int, list[tuple[str, str]], bytes]:
    status, payload = _GATEWAY_ERROR
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


class LocalApi:
    """The local API server; `with LocalApi() as api:` serves on `api.url` until the block ends.

    With no `d24_base_url` it starts a D24 sandbox (`api.sandbox`); with no `secret_id` it starts
    moto's Secrets Manager in-process holding the sandbox's credentials. `serialise=True` (the
    default) runs one invocation at a time, as one Lambda container does: the function keeps
    per-container state (the Powertools correlation id and metrics buffer) that assumes it;
    `serialise=False` runs them concurrently, like a burst over many containers sharing one process.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        d24_base_url: str | None = None,
        secret_id: str | None = None,
        serialise: bool = True,
        timeout_seconds: float = TIMEOUT_SECONDS,
        handler: Handler | None = None,
        verbose: bool = False,
        runtime: str = "in-process",
        build_dir: Path | None = None,
    ) -> None:
        self._port = port
        # "lambda": the built artifact under awslambdaric, as `make lambda-invoke` runs it.
        self.runtime, self._build_dir = runtime, build_dir
        self._d24_base_url, self._secret_id = d24_base_url, secret_id
        self.serialise, self.timeout_seconds, self.verbose = serialise, timeout_seconds, verbose
        self._handler = handler
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()
        self._server: _Server | None = None
        self.sandbox: D24Sandbox | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (the real one when constructed with port=0)."""
        if self._server is None:
            raise RuntimeError("LocalApi is not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:3000."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start the sandbox and Secrets Manager when needed, then serve in a daemon thread."""
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start(self) -> None:
        _src_on_path()
        from cashout_cancel import container

        if self._d24_base_url is None:
            self.sandbox = self._stack.enter_context(D24Sandbox())
        base_url = self._d24_base_url or cast(D24Sandbox, self.sandbox).base_url
        environ = {"D24_BASE_URL": base_url, "D24_SECRET_ID": self._secret_id or LOCAL_SECRET_ID}
        if self._secret_id is None:
            environ["AWS_DEFAULT_REGION"] = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._stack.enter_context(_environment(environ))
        # An external sandbox started with `python -m local.d24_sandbox` has the defaults.
        credentials = self.sandbox.credentials if self.sandbox else SANDBOX_CREDENTIALS
        if self._secret_id is None and self.runtime != "lambda":
            self._stack.enter_context(_local_secret(LOCAL_SECRET_ID, credentials))
        # A cold container: nothing built against an earlier environment or AWS mock is reused.
        container.reset()
        self._stack.callback(container.reset)
        if self._handler is None and self.runtime == "lambda":
            if self._secret_id is not None:
                raise ValueError("--runtime lambda serves a local secret only")
            artifact = _artifact_handler(base_url, credentials, self._build_dir, self.verbose)
            self._handler = self._stack.enter_context(artifact)
        elif self._handler is None:
            self._handler = _real_handler()
        self._server = _Server(("127.0.0.1", self._port), self)
        self._stack.callback(self._server.server_close)
        self._stack.callback(self._server.shutdown)
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()

    def stop(self) -> None:
        """Stop serving, then stop what `start` started and restore the environment."""
        self._stack.close()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def invoke(self, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run the handler on one event, as Lambda would, and shape its answer for HTTP."""
        handler = cast(Handler, self._handler)
        context = LambdaContext(remaining_ms=self.timeout_seconds * 1000)
        lock = self._lock if self.serialise else contextlib.nullcontext()
        with lock:
            started = time.monotonic()
            try:
                response = handler(event, context)
            except Exception:
                # Lambda reports the error and API Gateway answers 502; the traceback is the log.
                traceback.print_exc()
                return _gateway_error()
            if time.monotonic() - started > self.timeout_seconds:
                print(
                    f"invocation ran past the {self.timeout_seconds:g} s timeout", file=sys.stderr
                )
                return _gateway_error()  # Lambda would have stopped it
        return http_answer(response)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set the function's environment (template defaults under `values`), restore it after."""
    wanted = {**{k: v for k, v in FUNCTION_ENV.items() if k not in os.environ}, **values}
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _local_secret(secret_id: str, credentials: Mapping[str, str]) -> Iterator[None]:
    """Secrets Manager from moto, in this process, holding the D24 secret."""
    import boto3
    from moto import mock_aws

    from local.secrets_extension import SecretsExtension

    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name=secret_id, SecretString=json.dumps(credentials))
        with SecretsExtension(client) as extension, _environment(extension.environment):
            yield


@contextlib.contextmanager
def _artifact_handler(
    base_url: str, credentials: Mapping[str, str], build_dir: Path | None, verbose: bool
) -> Iterator[Handler]:
    """The built artifact in its own process under awslambdaric, its secret in a Secrets Manager
    it reaches over a socket (moto's server: an in-process mock cannot serve another process)."""
    from local.demo import local_client, local_secrets_manager
    from local.lambda_artifact import (
        DEFAULT_BUILD_DIR,
        RuntimeHandler,
        function_config,
        function_environment,
    )
    from local.lambda_environment import LocalLambda
    from local.secrets_extension import SecretsExtension

    with local_secrets_manager() as endpoint:
        client = local_client("secretsmanager", endpoint)
        client.create_secret(Name=LOCAL_SECRET_ID, SecretString=json.dumps(credentials))
        environment = function_environment(
            d24_base_url=base_url, secret_id=LOCAL_SECRET_ID, aws_endpoint_url=endpoint
        )
        with SecretsExtension(client) as extension:
            environment.update(extension.environment)  # the function reads its secret through it
            config = function_config(build_dir or DEFAULT_BUILD_DIR, environment=environment)
            with LocalLambda(config, log=sys.stderr if verbose else None) as function:
                yield RuntimeHandler(function)


def _src_on_path() -> None:
    """Make the function's package importable when run as `python -m local.api`."""
    src = str(Path(__file__).resolve().parent.parent / "src")
    if src not in sys.path:
        sys.path.insert(0, src)


def _real_handler() -> Handler:
    """The handler the template deploys."""
    from cashout_cancel.handler import lambda_handler

    return cast(Handler, lambda_handler)


class _Server(LoopbackHTTPServer):
    def __init__(self, address: tuple[str, int], api: LocalApi) -> None:
        self.api = api
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, with Content-Length on every answer
    server_version = "cashout-cancel-local-api/1.0"

    @property
    def _api(self) -> LocalApi:
        return cast(_Server, self.server).api

    def log_message(self, format: str, *args: Any) -> None:
        if self._api.verbose:
            super().log_message(format, *args)

    def __getattr__(self, name: str) -> Any:
        # Every method reaches the function (do_POST, do_GET, do_TRACE...): it answers 405 itself.
        if name.startswith("do_"):
            return self._forward
        raise AttributeError(name)

    def _forward(self) -> None:
        body = self._read_body()
        if body is None:
            return
        event = rest_event(
            self.command, self.path, list(self.headers.items()), body, self.client_address[0]
        )
        status, headers, payload = self._api.invoke(event)
        self._send(status, headers, payload, event["requestContext"]["requestId"])

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
        self._send(status, [("Content-Type", "application/json")], payload, str(uuid.uuid4()))

    def _send(
        self, status: int, headers: list[tuple[str, str]], payload: bytes, request_id: str
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description="The cancel-cashout HTTP API on localhost.")
    parser.add_argument("--port", type=int, default=3000, help="TCP port (0 picks a free one)")
    parser.add_argument("--d24-base-url", help="use this D24 (e.g. http://127.0.0.1:8024/v3)")
    parser.add_argument("--secret-id", help="use this Secrets Manager secret (real AWS)")
    parser.add_argument(
        "--parallel", action="store_true", help="run invocations concurrently, not one at a time"
    )
    parser.add_argument(
        "--runtime",
        choices=("in-process", "lambda"),
        default="in-process",
        help="lambda: through the built artifact under awslambdaric (make lambda-build first)",
    )
    parser.add_argument("--build-dir", type=Path, help="the local build (default: make's)")
    args = parser.parse_args(argv)
    api = LocalApi(
        args.port,
        d24_base_url=args.d24_base_url,
        secret_id=args.secret_id,
        serialise=not args.parallel,
        verbose=True,
        runtime=args.runtime,
        build_dir=args.build_dir,
    )
    with api:
        _print_banner(api)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


def _print_banner(api: LocalApi) -> None:
    print(f"cashout-cancel API on {api.url}  (POST /cashouts/{{cashout_id}}/cancel)")
    print(f"  D24: {os.environ['D24_BASE_URL']}   secret: {os.environ['D24_SECRET_ID']}")
    if api.sandbox is not None:
        print("  sandbox cashouts:")
        for cashout_id, cashout in SEED_CASHOUTS.items():
            description = STATUS_DESCRIPTIONS[cashout.status]
            print(f"    {cashout_id}  external_id={cashout.external_id}  {description}")
    print("try:")
    print(
        f"  curl -X POST {api.url}/cashouts/1001/cancel"
        " -H 'content-type: application/json' -d '{\"external_id\":\"ext-1001\"}'"
    )
    print("Ctrl-C to stop.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
