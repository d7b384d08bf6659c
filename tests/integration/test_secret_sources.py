"""Where the secret is read from (docs/contract.md section 5, "Cold starts"), through the real
handler: the Parameters and Secrets extension (its stand-in, local/secrets_extension.py, in front
of moto) when it can serve; the SDK when it cannot, without failing the cancel; the SDK alone for
the re-read after D24 refused the credentials; and the result line says which served."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from local.d24_sandbox import D24Sandbox
from local.secrets_extension import SecretsExtension
from tests.conftest import LOGIN, PASSWORD, SECRET_ID, SECRET_KEY, Invoke
from tests.integration.test_observability import json_lines, output, result_line  # noqa: F401
from tests.integration.via import Answer, send

CANCELLED = 2
SYNCHRONOUS = ("api-rest", "direct")  # the callers that wait: HTTP and direct invokes


@pytest.fixture
def sdk_reads(extension: SecretsExtension) -> list[str]:
    """Every GetSecretValue the function's own Secrets Manager client (the SDK) makes."""
    from cashout_cancel import container

    reads: list[str] = []
    container.secrets_client().meta.events.register(
        "before-call.secrets-manager.GetSecretValue", lambda **_: reads.append("read")
    )
    return reads


def lines_of(output: Any) -> list[dict[str, Any]]:  # noqa: F811 - the fixture, passed on
    return [line for line in output() if line.get("message") == "cancel finished"]


@pytest.mark.parametrize("entry", SYNCHRONOUS)
def test_a_cold_cancel_reads_its_secret_through_the_extension_then_from_the_cache(
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    extension: SecretsExtension,
    sdk_reads: list[str],
    output: Any,  # noqa: F811
) -> None:
    # Given a cold function with the extension beside it
    # When a caller cancels, and then another
    first = send(invoke, entry, 1001, "ext-1001")
    second = send(invoke, entry, 1002, "ext-1002")

    # Then both are cancelled, the first with the secret the extension served, the second from
    # the function's own cache; the SDK never read it
    assert (first.body["outcome"], second.body["outcome"]) == ("CANCELLED", "CANCELLED")
    assert [line["secret_source"] for line in lines_of(output)] == ["extension", "cache"]
    assert extension.requests == [SECRET_ID]
    assert sdk_reads == []
    assert d24.status_of(1001) == d24.status_of(1002) == CANCELLED


@pytest.mark.parametrize("entry", SYNCHRONOUS)
def test_the_re_read_after_a_refusal_bypasses_the_extensions_stale_secret(
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    secrets: Any,
    extension: SecretsExtension,
    sdk_reads: list[str],
    output: Any,  # noqa: F811
) -> None:
    # Given a warm function that read its secret through the extension, then a rotation: D24
    # takes only the new password, Secrets Manager holds it, the extension still serves the old
    assert send(invoke, entry, 1005, "ext-1005").body["outcome"] == "CANCELLED"
    d24.set_credentials(password="rotated-pass")
    new = {"login": LOGIN, "pass": "rotated-pass", "secret_key": SECRET_KEY}
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(new))
    already = len(d24.received("cancel"))

    # When a caller cancels
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then D24 refuses the cached password once, the secret is re-read once from Secrets Manager
    # itself through the SDK (never the extension again), and the cancel goes through with it
    assert answer.body["outcome"] == "CANCELLED"
    assert sdk_reads == ["read"]
    assert extension.requests == [SECRET_ID]
    sent = [request.json()["pass"] for request in d24.received("cancel")[already:]]
    assert sent == [PASSWORD, "rotated-pass"]
    assert d24.status_of(1001) == CANCELLED
    assert [line["secret_source"] for line in lines_of(output)] == ["extension", "sdk"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: nothing listens there


def nothing_listens(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", str(_closed_port()))


def no_session_token(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    monkeypatch.delenv("AWS_SESSION_TOKEN")


def another_session_token(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "not-this-environments-token")  # answered 403


def port_not_a_number(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "twenty-seven-seventy-three")


def snapstart(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")


def error_500(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    extension.fail(500)


def error_400(monkeypatch: pytest.MonkeyPatch, extension: SecretsExtension) -> None:
    extension.fail(400)  # as the extension answers when asked during INIT


# case: (arrange, requests the extension sees, why the function's warning says it fell back)
CANNOT_SERVE = {
    "absent": (nothing_listens, 0, "ConnectionRefusedError"),
    "port-not-a-number": (
        port_not_a_number,
        0,
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is not a port number",
    ),
    "no-session-token": (no_session_token, 0, None),  # expected there: no warning
    "snapstart": (snapstart, 0, None),
    "another-session-token": (another_session_token, 1, "HTTP 403"),
    "error-500": (error_500, 1, "HTTP 500"),
    "error-400": (error_400, 1, "HTTP 400"),
}


@pytest.mark.parametrize("entry", SYNCHRONOUS)
@pytest.mark.parametrize("case", sorted(CANNOT_SERVE))
def test_when_the_extension_cannot_serve_the_sdk_reads_the_secret_and_the_cancel_goes_through(
    case: str,
    entry: str,
    monkeypatch: pytest.MonkeyPatch,
    invoke: Invoke,
    d24: D24Sandbox,
    extension: SecretsExtension,
    sdk_reads: list[str],
    output: Any,  # noqa: F811
) -> None:
    # Given an extension that cannot serve this way
    arrange, asked, reason = CANNOT_SERVE[case]
    arrange(monkeypatch, extension)

    # When a caller cancels
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then the SDK read the secret (the extension asked only where it could have served), the
    # cancel went through, and the result line says the SDK served
    assert answer.body["outcome"] == "CANCELLED"
    assert sdk_reads == ["read"]
    assert len(extension.requests) == asked
    assert d24.status_of(1001) == CANCELLED
    lines = output()
    [line] = [line for line in lines if line.get("message") == "cancel finished"]
    assert line["secret_source"] == "sdk"
    # ...and a warning says why, where the extension should have served
    warnings = [line.get("reason") for line in lines if line.get("level") == "WARNING"]
    assert warnings == ([reason] if reason else [])


@pytest.mark.slow
@pytest.mark.parametrize("entry", SYNCHRONOUS)
def test_an_extension_that_stalls_costs_its_share_of_the_deadline_and_no_more(
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    extension: SecretsExtension,
    sdk_reads: list[str],
    output: Any,  # noqa: F811
) -> None:
    # Given an extension that accepts and never answers, and 3 s left (2.8 s less the margin)
    extension.stall()

    # When a caller cancels
    started = time.monotonic()
    answer: Answer = send(invoke, entry, 1001, "ext-1001", remaining_ms=3000)
    elapsed = time.monotonic() - started

    # Then the extension is given up after its share (a third of 2.8 s, under the 1 s bound),
    # the SDK reads the secret in the time left, and the cancel goes through
    assert answer.body["outcome"] == "CANCELLED"
    assert sdk_reads == ["read"]
    assert 2.8 / 3 <= elapsed < 2.8 / 3 + 1.0
    [line] = lines_of(output)
    assert line["secret_source"] == "sdk"


# A secret the extension serves is validated like one the SDK reads (credentials/secret.py);
# one served without a SecretString, or not at all, is read by the SDK, which names the problem.
# case: (the secret's new value, or None: deleted; what the answer's message names)
BAD_SECRETS: dict[str, tuple[dict[str, Any] | None, str]] = {
    "not-json": ({"SecretString": "a=b"}, "JSON"),
    "pass-missing": (
        {"SecretString": json.dumps({"login": LOGIN, "secret_key": SECRET_KEY})},
        "'pass'",
    ),
    "binary-only": ({"SecretBinary": b"\x00\x01"}, "SecretString"),
    "deleted": (None, "ResourceNotFoundException"),
}


@pytest.mark.parametrize("entry", SYNCHRONOUS)
@pytest.mark.parametrize("case", sorted(BAD_SECRETS))
def test_a_bad_secret_through_the_extension_is_a_configuration_error_naming_it(
    case: str,
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    secrets: Any,
    extension: SecretsExtension,
) -> None:
    # Given a secret that is malformed, binary, or gone
    value, names = BAD_SECRETS[case]
    if value is None:
        secrets.delete_secret(SecretId=SECRET_ID, ForceDeleteWithoutRecovery=True)
    else:
        secrets.put_secret_value(SecretId=SECRET_ID, **value)

    # When a caller cancels
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then it is told CONFIGURATION_ERROR in words that name the problem and no value, and
    # nothing reaches D24
    assert (answer.status_code, answer.body["outcome"]) == (500, "CONFIGURATION_ERROR")
    assert names in answer.body["message"]
    assert PASSWORD not in answer.body["message"]
    assert extension.requests == [SECRET_ID]
    assert d24.received() == []
