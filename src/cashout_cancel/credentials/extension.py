"""Reading a secret through the AWS Parameters and Secrets Lambda Extension, over localhost.

The extension (a layer) answers `GET /secretsmanager/get?secretId=<id>` on localhost, port
`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` (2773 by default), with GetSecretValue's JSON, when the
request carries the execution environment's session token in `X-Aws-Parameters-Secrets-Token`.
The standard library is enough to ask it, so the path that reads a secret this way never imports
boto3 (docs/contract.md section 5). What it cannot do, and how the function copes:

- It serves only while an invocation runs (during INIT it answers 400): the function reads its
  secret lazily, in an invocation, never at import or in SnapStart's before-snapshot hook.
- Without `AWS_SESSION_TOKEN` there is no token for its header; under SnapStart Lambda gives the
  function none, and the extension does not work there: `available` says no, the SDK reads.
- It caches what it read for up to `SECRETS_MANAGER_TTL` and has no way to refresh one secret:
  a re-read that must see a rotated secret goes to the SDK (credentials/sources.py).
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Mapping
from urllib.parse import quote

PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
DEFAULT_PORT = 2773
SESSION_VARIABLE = "AWS_SESSION_TOKEN"
EXTENSION_HEADER = "X-Aws-Parameters-Secrets-Token"
# How Lambda (and awslambdaric) tell a SnapStart environment apart.
INITIALIZATION_TYPE_VARIABLE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAPSTART = "snap-start"
# A GetSecretValue answer for a D24 secret is well under 1 KiB; anything far larger is not read.
MAX_ANSWER_BYTES = 64 * 1024


class ExtensionUnavailable(Exception):
    """The extension did not serve this read; the text says why (a status, an error type), never
    a value."""


def available(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the extension can serve in this environment: a session token for its header, and
    not SnapStart."""
    return bool(environ.get(SESSION_VARIABLE)) and (
        environ.get(INITIALIZATION_TYPE_VARIABLE) != SNAPSTART
    )


def read_secret(secret_id: str, timeout: float, environ: Mapping[str, str] = os.environ) -> str:
    """The SecretString of `secret_id` as the extension serves it.

    `timeout` bounds the connection and each read on it (the caller bounds the whole). Raises
    ExtensionUnavailable when nothing listens, it answers anything but 200 with a SecretString,
    or it does not answer in time.
    """
    token = environ.get(SESSION_VARIABLE) or ""
    connection = http.client.HTTPConnection("localhost", _port(environ), timeout=timeout)
    try:
        connection.request(
            "GET",
            f"/secretsmanager/get?secretId={quote(secret_id, safe='')}",
            headers={EXTENSION_HEADER: token},
        )
        response = connection.getresponse()
        body = response.read(MAX_ANSWER_BYTES + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise ExtensionUnavailable(type(exc).__name__) from None
    finally:
        connection.close()
    if response.status != 200:
        raise ExtensionUnavailable(f"HTTP {response.status}")
    return _secret_string(body)


def _port(environ: Mapping[str, str]) -> int:
    raw = (environ.get(PORT_VARIABLE) or "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ExtensionUnavailable(f"{PORT_VARIABLE} is not a port number")
    return int(raw)


def _secret_string(body: bytes) -> str:
    if len(body) > MAX_ANSWER_BYTES:
        raise ExtensionUnavailable("answer too large")
    try:
        answer = json.loads(body)
    except ValueError:
        raise ExtensionUnavailable("answer is not JSON") from None
    secret_string = answer.get("SecretString") if isinstance(answer, dict) else None
    if not isinstance(secret_string, str):
        # A binary-only secret, or not GetSecretValue's shape: the SDK reads it and says which.
        raise ExtensionUnavailable("answer has no SecretString")
    return secret_string
