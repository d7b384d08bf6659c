"""A cold start as Lambda runs it (the built artifact under awslambdaric, a fresh process each
time), with the secrets extension (its stand-in) beside it: a synchronous cancel reads its secret
without the AWS SDK (docs/contract.md section 5), and tracing makes each D24 call a subsegment
that holds no secret, without importing the SDK either (section 7)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from local.d24_sandbox import D24Sandbox
from local.events import load_event
from local.function import aws_client
from local.secrets_extension import SecretsExtension
from tests.runtime.conftest import SECRET_ID, StartFunction, task_root

# Beside the function in the artifact: runs the function's handler, then says which of the SDK's
# modules the process has loaded. The local Runtime API hands out unsampled trace ids; Lambda
# samples this one, as X-Ray would sample a caller's request.
PROBE = """
import os
import sys

from cashout_cancel import handler as function

SDK = ("boto3", "botocore", "botocore.session", "botocore.client")


def lambda_handler(event, context):
    trace = os.environ.get("_X_AMZN_TRACE_ID", "")
    os.environ["_X_AMZN_TRACE_ID"] = trace.replace("Sampled=0", "Sampled=1")
    answer = function.lambda_handler(event, context)
    return {"answer": answer, "loaded": [name for name in SDK if name in sys.modules]}
"""
# Powertools imports the bare botocore package (its user agent); that costs nothing.
BARE_BOTOCORE = ["botocore"]


class XRayDaemon:
    """A UDP socket on loopback where the X-Ray SDK sends segments, as to the X-Ray daemon."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self.datagrams: list[bytes] = []
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        while True:
            try:
                self.datagrams.append(self._socket.recv(65536))
            except OSError:
                return

    def entities(self, until: Callable[[list[dict[str, Any]]], bool] | None = None) -> Any:
        """Every segment and subsegment received, nested ones included; with `until`, once they
        satisfy it (UDP datagrams may land a moment after the answer), or after 5 s."""
        deadline = time.monotonic() + 5
        while until is not None and not until(self._entities()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._entities()

    def _entities(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        pending = [json.loads(d.split(b"\n", 1)[1]) for d in list(self.datagrams)]
        while pending:
            entity = pending.pop()
            found.append(entity)
            pending.extend(entity.get("subsegments", []))
        return found

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._socket.close()


@pytest.fixture
def extension(secrets_endpoint: str, environment: dict[str, str]) -> Iterator[SecretsExtension]:
    """The extension's stand-in in front of the local Secrets Manager (after `environment` has
    written the secret), and the function's environment pointed at it."""
    with SecretsExtension(aws_client("secretsmanager", secrets_endpoint)) as running:
        environment.update(running.environment)
        yield running


@pytest.fixture
def xray(environment: dict[str, str]) -> Iterator[XRayDaemon]:
    """Tracing on, as the template deploys it, sending to a local X-Ray daemon."""
    with XRayDaemon() as daemon:
        environment.update(
            {"POWERTOOLS_TRACE_DISABLED": "false", "AWS_XRAY_DAEMON_ADDRESS": daemon.address}
        )
        yield daemon


def probed(artifact: Path, tmp_path: Path, start: StartFunction, env: dict[str, str]) -> Any:
    root = task_root(artifact, tmp_path / "task", add={"probe.py": PROBE})
    return start(env, task_root=root, handler="probe.lambda_handler")


def outcome_of(answer: Any) -> str:
    result = answer["body"] if isinstance(answer.get("body"), str) else None
    return str(json.loads(result)["outcome"] if result else answer["outcome"])


@pytest.mark.slow
@pytest.mark.parametrize("tracing", [False, True], ids=["untraced", "traced"])
@pytest.mark.parametrize("event", ["direct-cancel", "api-rest-cancel"])
def test_a_cold_synchronous_cancel_reads_its_secret_without_the_sdk(
    event: str,
    tracing: bool,
    artifact: Path,
    tmp_path: Path,
    environment: dict[str, str],
    extension: SecretsExtension,
    start_function: StartFunction,
    request: pytest.FixtureRequest,
) -> None:
    # Given a cold function with the extension beside it (and tracing on, or off)
    if tracing:
        request.getfixturevalue("xray")
    function = probed(artifact, tmp_path, start_function, environment)

    # When a caller cancels
    answer = function.invoke(load_event(event))

    # Then the cancel went through with the secret the extension served, and neither boto3 nor
    # botocore's sessions and clients were ever imported
    assert answer.kind == "response", answer.payload
    assert outcome_of(answer.payload["answer"]) == "CANCELLED"
    assert extension.requests == [SECRET_ID]
    assert answer.payload["loaded"] == BARE_BOTOCORE


@pytest.mark.slow
def test_without_the_extension_the_sdk_reads_the_secret_and_is_imported(
    artifact: Path, tmp_path: Path, environment: dict[str, str], start_function: StartFunction
) -> None:
    # Given a cold function with no extension (no session token for one)
    function = probed(artifact, tmp_path, start_function, environment)

    # When a caller cancels
    answer = function.invoke(load_event("direct-cancel"))

    # Then the SDK read the secret: boto3 and botocore's client are loaded
    assert outcome_of(answer.payload["answer"]) == "CANCELLED"
    assert {"boto3", "botocore.session", "botocore.client"} <= set(answer.payload["loaded"])


@pytest.mark.slow
def test_each_d24_call_is_a_subsegment_with_its_status_and_attempts_and_no_secret(
    artifact: Path,
    tmp_path: Path,
    sandbox: D24Sandbox,
    environment: dict[str, str],
    extension: SecretsExtension,
    xray: XRayDaemon,
    start_function: StartFunction,
) -> None:
    # Given a traced cold function
    function = probed(artifact, tmp_path, start_function, environment)

    # When a caller cancels a Completed cashout (D24 refuses, then its status is looked up)
    answer = function.invoke({"cashout_id": 2001, "external_id": "ext-2001"})

    # Then the cancel and the look-up are each a subsegment, with D24's status and the attempts
    assert outcome_of(answer.payload["answer"]) == "NOT_CANCELLABLE"
    entities = xray.entities(until=lambda found: len(d24_calls(found)) == 2)
    calls = d24_calls(entities)
    assert set(calls) == {"## D24 cancel", "## D24 status"}
    assert calls["## D24 cancel"]["annotations"] == {"d24_attempts": 1, "d24_http_status": 412}
    assert calls["## D24 status"]["annotations"] == {"d24_attempts": 1, "d24_http_status": 200}
    # ...and nothing sent to X-Ray holds a credential or a signature, in any case
    sent = b"".join(xray.datagrams).decode().lower()
    signatures = [r.header("Payload-Signature") or "" for r in sandbox.received()]
    assert all(signatures)
    for value in [*sandbox.credentials.values(), *signatures]:
        assert value.lower() not in sent


@pytest.mark.slow
def test_an_aws_sdk_call_is_a_subsegment_once_the_sdk_is_used(
    artifact: Path,
    tmp_path: Path,
    environment: dict[str, str],
    xray: XRayDaemon,
    start_function: StartFunction,
) -> None:
    # Given a traced cold function with no extension: the SDK reads the secret
    function = probed(artifact, tmp_path, start_function, environment)

    # When a caller cancels
    answer = function.invoke(load_event("direct-cancel"))

    # Then the SDK was patched when its first client was built: GetSecretValue is a subsegment
    assert outcome_of(answer.payload["answer"]) == "CANCELLED"
    entities = xray.entities(until=lambda found: "GetSecretValue" in operations(found))
    assert "GetSecretValue" in operations(entities)


def d24_calls(entities: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in entities if e.get("name", "").startswith("## D24 ")}


def operations(entities: list[dict[str, Any]]) -> set[str]:
    return {e["aws"]["operation"] for e in entities if "operation" in e.get("aws", {})}
