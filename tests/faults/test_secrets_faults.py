"""Secrets Manager misbehaving, through the real handler, for every caller (docs/contract.md
sections 3-5).

The secret is missing, scheduled for deletion, denied, throttled, undecryptable or malformed:
every caller is told 500 CONFIGURATION_ERROR in a sentence that names the secret's problem
(an EventBridge event raises, so it is retried and dead-lettered), and nothing reaches D24.
Moto plays Secrets Manager; what moto cannot play (AccessDenied, throttling, KMS) is a botocore
`Stubber` on the function's own client, so the real botocore error reaches the real code.

`SECRET_FAULTS` is a table so that the leak test (tests/security) can replay it verbatim.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.stub import Stubber

from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox
from tests.conftest import LOGIN, PASSWORD, SECRET_ID, SECRET_KEY, Invoke, LambdaContext
from tests.integration.via import ENTRIES, Answer, send


@dataclass
class SecretWorld:
    """What a secret fault needs to arrange itself: Secrets Manager, the function's client."""

    secrets: Any  # a moto client, to change the secret
    function_client: Any  # the function's own client, to stub what moto cannot play
    secret_id: str
    credentials: dict[str, str]  # the good SecretString, as a dict
    stack: ExitStack  # undoes stubs when the case ends

    def put(self, secret_string: str) -> None:
        """Store a new (current) version of the secret."""
        self.secrets.put_secret_value(SecretId=self.secret_id, SecretString=secret_string)

    def put_json(self, value: Any) -> None:
        self.put(json.dumps(value))

    def stub_error(self, code: str, http_status: int = 400) -> None:
        """The function's next GetSecretValue fails with this AWS error code."""
        stubber = Stubber(self.function_client)
        stubber.add_client_error(
            "get_secret_value",
            service_error_code=code,
            service_message=f"{code} (stubbed)",
            http_status_code=http_status,
        )
        self.stack.enter_context(stubber)


@dataclass(frozen=True)
class SecretCase:
    """A Secrets Manager fault; `names` is what the answer's message must mention."""

    id: str
    arrange: Callable[[SecretWorld], None]
    names: str


def _without(credentials: dict[str, str], key: str) -> dict[str, str]:
    return {k: v for k, v in credentials.items() if k != key}


SECRET_FAULTS: tuple[SecretCase, ...] = (
    SecretCase(
        "deleted",
        lambda w: w.secrets.delete_secret(SecretId=w.secret_id, ForceDeleteWithoutRecovery=True),
        "ResourceNotFoundException",
    ),
    SecretCase(
        "scheduled-for-deletion",
        lambda w: w.secrets.delete_secret(SecretId=w.secret_id, RecoveryWindowInDays=7),
        "InvalidRequestException",
    ),
    SecretCase(
        "access-denied", lambda w: w.stub_error("AccessDeniedException"), "AccessDeniedException"
    ),
    SecretCase("throttled", lambda w: w.stub_error("ThrottlingException"), "ThrottlingException"),
    SecretCase("kms-cannot-decrypt", lambda w: w.stub_error("DecryptionFailure"), "Decryption"),
    SecretCase(
        "service-internal-error",
        lambda w: w.stub_error("InternalServiceError", 500),
        "InternalServiceError",
    ),
    SecretCase(
        "not-json",
        lambda w: w.put(" ".join(f"{k}={v}" for k, v in w.credentials.items())),
        "JSON",
    ),
    SecretCase("json-array", lambda w: w.put_json(list(w.credentials.values())), "JSON object"),
    SecretCase("pass-missing", lambda w: w.put_json(_without(w.credentials, "pass")), "'pass'"),
    SecretCase(
        "secret-key-empty",
        lambda w: w.put_json({**w.credentials, "secret_key": ""}),
        "'secret_key'",
    ),
    SecretCase(
        "login-over-32-characters",
        lambda w: w.put_json({**w.credentials, "login": w.credentials["login"] + "x" * 33}),
        "'login'",
    ),
    SecretCase(
        "pass-not-a-string",
        lambda w: w.put_json({**w.credentials, "pass": 20240607}),
        "'pass'",
    ),
    SecretCase(
        "binary-only",
        lambda w: w.secrets.put_secret_value(
            SecretId=w.secret_id, SecretBinary=json.dumps(w.credentials).encode()
        ),
        "SecretString",
    ),
)

GOOD_SECRET = {"login": LOGIN, "pass": PASSWORD, "secret_key": SECRET_KEY}


def fresh_secret(
    secrets: Any, monkeypatch: pytest.MonkeyPatch, name: str, credentials: dict[str, str]
) -> str:
    """A new, good secret the function is pointed at: a cold credential cache for each case."""
    secret_id = f"{SECRET_ID}/{name}"
    secrets.create_secret(Name=secret_id, SecretString=json.dumps(credentials))
    monkeypatch.setenv("D24_SECRET_ID", secret_id)
    return secret_id


def assert_configuration_error(entry: str, answer: Answer, names: str) -> None:
    """500 CONFIGURATION_ERROR naming the problem; raised instead for EventBridge."""
    assert (answer.status_code, answer.body["outcome"]) == (500, "CONFIGURATION_ERROR")
    if entry == "eventbridge":
        assert answer.raised is not None
        return
    assert answer.raised is None
    assert answer.body["statusCode"] == 500
    assert "secret" in answer.body["message"]
    assert names in answer.body["message"]


@pytest.mark.parametrize("case", SECRET_FAULTS, ids=lambda case: case.id)
def test_secret_fault_is_a_configuration_error_and_nothing_reaches_d24(
    case: SecretCase,
    invoke: Invoke,
    d24: D24Sandbox,
    secrets: Any,
    monkeypatch: pytest.MonkeyPatch,
    subtests: pytest.Subtests,
) -> None:
    from cashout_cancel import container

    for entry in ENTRIES:
        with subtests.test(entry=entry), ExitStack() as stack:
            # Given the function's secret broken as the case says
            secret_id = fresh_secret(secrets, monkeypatch, f"{case.id}/{entry}", GOOD_SECRET)
            world = SecretWorld(secrets, container.secrets_client(), secret_id, GOOD_SECRET, stack)
            case.arrange(world)

            # When a caller asks to cancel
            answer = send(invoke, entry, 1001, "ext-1001")

            # Then it is told the function is misconfigured, and nothing was sent to D24
            assert_configuration_error(entry, answer, case.names)
            assert d24.received() == []
            assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("entry", ENTRIES)
def test_failed_secret_read_is_not_cached(
    entry: str, invoke: Invoke, d24: D24Sandbox, secrets: Any
) -> None:
    # Given a secret that was deleted and then restored
    secrets.delete_secret(SecretId=SECRET_ID, ForceDeleteWithoutRecovery=True)
    assert send(invoke, entry, 1001, "ext-1001").status_code == 500
    secrets.create_secret(Name=SECRET_ID, SecretString=json.dumps(GOOD_SECRET))

    # When a caller asks again, without a cold start
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then the secret is read again and the cancel goes through
    assert (answer.status_code, answer.body["outcome"]) == (200, "CANCELLED")
    assert d24.status_of(1001) == CANCELLED


def warm_then_rotate_at_d24(invoke: Invoke, entry: str, d24: D24Sandbox) -> int:
    """Cache the secret with one cancel, then rotate D24's password; returns cancels so far."""
    assert send(invoke, entry, 1005, "ext-1005").body["outcome"] == "CANCELLED"
    d24.set_credentials(password="rotated-pass")
    return len(d24.received("cancel"))


@pytest.mark.parametrize("entry", ENTRIES)
def test_secret_unreadable_on_the_re_read_after_a_401_is_a_configuration_error(
    entry: str, invoke: Invoke, d24: D24Sandbox
) -> None:
    from cashout_cancel import container

    # Given a warm function, D24 rotated, and Secrets Manager now denying the re-read
    already = warm_then_rotate_at_d24(invoke, entry, d24)
    with Stubber(container.secrets_client()) as stubber:
        stubber.add_client_error("get_secret_value", "AccessDeniedException", "denied", 400)

        # When a caller asks to cancel
        answer = send(invoke, entry, 1001, "ext-1001")

        # Then it is told the function is misconfigured, after the one refused cancel
        stubber.assert_no_pending_responses()
    assert_configuration_error(entry, answer, "AccessDeniedException")
    assert len(d24.received("cancel")) == already + 1
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("entry", ENTRIES)
def test_malformed_secret_version_after_rotation_is_a_configuration_error(
    entry: str, invoke: Invoke, d24: D24Sandbox, secrets: Any
) -> None:
    # Given a warm function, D24 rotated, and a broken new version of the secret
    already = warm_then_rotate_at_d24(invoke, entry, d24)
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString='{"login": "merchant-login"')

    # When a caller asks to cancel
    answer = send(invoke, entry, 1001, "ext-1001")

    # Then it is told the function is misconfigured; the broken secret was never used
    assert_configuration_error(entry, answer, "JSON")
    assert len(d24.received("cancel")) == already + 1
    assert d24.status_of(1001) == PENDING


class SilentSecretsManager:
    """A loopback endpoint that accepts Secrets Manager calls and answers only when released."""

    ERROR = json.dumps({"__type": "AccessDeniedException", "message": "released"}).encode()

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._release = threading.Event()
        self._threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._hold, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _hold(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):  # the client may have given up already
            self._release.wait()
            head = (
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"
                f"Content-Length: {len(self.ERROR)}\r\nConnection: close\r\n\r\n"
            )
            connection.sendall(head.encode() + self.ERROR)

    def release(self) -> None:
        """Answer every held call (and any later one) with an error, then stop listening."""
        self._release.set()
        for thread in list(self._threads):
            thread.join(timeout=2)
        self._listener.close()


@pytest.fixture
def silent_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentSecretsManager]:
    endpoint = SilentSecretsManager()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.url)
    yield endpoint
    endpoint.release()


TEMPLATE_TIMEOUT_MS = 20_000  # the function's Timeout in template.yaml


@pytest.mark.slow
def test_secrets_manager_that_never_answers_is_answered_before_the_deadline(
    d24: D24Sandbox,
    silent_secrets_manager: SilentSecretsManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cashout_cancel.handler import lambda_handler

    # Given Secrets Manager reachable (a VPC endpoint, say) but never answering, and the
    # invocation as long as the template allows
    monkeypatch.setenv("D24_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("D24_BASE_URL", d24.base_url)
    context = LambdaContext(remaining_ms=TEMPLATE_TIMEOUT_MS)
    answers: list[Any] = []
    invocation = threading.Thread(
        target=lambda: answers.append(
            lambda_handler({"cashout_id": 1001, "external_id": "e"}, context)
        ),
        daemon=True,
    )

    # When a caller asks to cancel
    invocation.start()
    invocation.join(timeout=TEMPLATE_TIMEOUT_MS / 1000)
    answered_in_time = bool(answers) and context.get_remaining_time_in_millis() > 0
    silent_secrets_manager.release()  # lets a late invocation finish before the next test
    invocation.join(timeout=5)

    # Then it is answered CONFIGURATION_ERROR before the Lambda deadline
    assert answered_in_time
    assert answers[0]["outcome"] == "CONFIGURATION_ERROR"
    assert d24.received() == []
