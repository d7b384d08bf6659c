"""A stand-in for the AWS Parameters and Secrets Lambda Extension on loopback: `GET
/secretsmanager/get?secretId=<id>` with the session token (401 without, 403 another) answers
GetSecretValue's JSON from a (moto) client, cached as the extension caches it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

from local.loopback import LoopbackHandler, LoopbackHTTPServer

TOKEN = "local-session-token"  # Lambda sets AWS_SESSION_TOKEN; locally this dummy
TTL = 300.0  # the template's SECRETS_MANAGER_TTL
VARIABLES = ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "AWS_SESSION_TOKEN")


class SecretsExtension(LoopbackHTTPServer):
    """`with SecretsExtension(client) as extension:` serves on 127.0.0.1 for `environment`."""

    def __init__(self, client: Any, ttl: float = TTL) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.client, self.ttl = client, ttl  # ttl 0: nothing cached, as a new container's
        self.requests: list[str] = []  # the secret id of every request, answered or not
        self._cache: dict[str, tuple[bytes, float]] = {}
        self._failing: int | None = None  # 0: stall
        self._stopped = threading.Event()

    @property
    def environment(self) -> dict[str, str]:
        """The function's variables that point it here."""
        return dict(zip(VARIABLES, (str(self.server_port), TOKEN), strict=True))

    def fail(self, status: int = 500) -> None:
        """Answer every request with `status` from now on."""
        self._failing = status

    def stall(self) -> None:
        """Accept every request from now on and never answer it."""
        self._failing = 0

    def __enter__(self) -> Self:
        self.client.list_secrets(MaxResults=1)  # warm: the client's first call is its slowest
        return super().__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        self._stopped.set()
        super().__exit__()

    def answer(self, secret_id: str, token: str | None) -> tuple[int, bytes] | None:
        """What it answers a request for `secret_id` (None: nothing, ever)."""
        self.requests.append(secret_id)
        if token != TOKEN:
            return (401 if token is None else 403), b'{"message": "bad session token"}'
        if self._failing is not None:
            return None if self._failing == 0 else (self._failing, b"stand-in told to fail")
        cached = self._cache.get(secret_id)
        if cached is not None and time.monotonic() < cached[1]:
            return 200, cached[0]
        try:
            found = self.client.get_secret_value(SecretId=secret_id)
        except Exception as problem:  # a ClientError, as the extension passes AWS errors on
            return 400, str(problem).encode()
        fields = {k: v for k, v in found.items() if k != "ResponseMetadata"}
        body = json.dumps(fields, default=str).encode()
        self._cache[secret_id] = (body, time.monotonic() + self.ttl)
        return 200, body


class _Handler(LoopbackHandler):
    protocol_version = "HTTP/1.0"  # one request a connection, as the extension serves

    def do_GET(self) -> None:
        extension = cast(SecretsExtension, self.server)
        url = urlsplit(self.path)
        secret_id = parse_qs(url.query).get("secretId", [""])[0]
        if url.path != "/secretsmanager/get" or not secret_id:
            self.send(400, b"secretId is required")
            return
        answer = extension.answer(secret_id, self.headers.get("X-Aws-Parameters-Secrets-Token"))
        if answer is None:
            extension._stopped.wait()  # stalled: hold the connection until the stand-in stops
            return
        self.send(*answer)
