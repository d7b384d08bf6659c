"""No credential or signature ever leaks, at DEBUG, under every fault (docs/contract.md section 6).

The whole fault suite (every case of `D24_FAULTS` and `SECRET_FAULTS`, a rotated secret, and
D24 echoing our credentials back) runs for every caller with distinctive credentials, the
function's logger and the root logger at DEBUG. Then none of login, pass, secret_key or any
Payload-Signature that was sent may appear in stdout or stderr, in any log record, in any
response, or in any raised exception (its text, attributes and chained causes); nor, for the
callers nobody waits on, in any result event published for the ledger (section 10).
"""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from local.d24_sandbox import D24Sandbox, Fault
from local.events import eventbridge_event, sqs_event
from tests.conftest import SECRET_ID, Invoke, ResultsTap
from tests.faults.test_d24_faults import D24_FAULTS, READ_TIMEOUT
from tests.faults.test_secrets_faults import SECRET_FAULTS, SecretWorld, fresh_secret
from tests.integration.via import ENTRIES, event_for

# Distinctive values that cannot turn up by chance, and need no escaping in JSON or repr.
LEAK_LOGIN = "lk-login-Q7f3a9c1d"
LEAK_PASS = "lk-pass-Z4e41b2d9w"
LEAK_SECRET_KEY = "lk-signing-key-M5c8e0f27bX"
LEAK_SECRET = {"login": LEAK_LOGIN, "pass": LEAK_PASS, "secret_key": LEAK_SECRET_KEY}
# Rotated values contain the originals, so one substring check covers both.
ROTATED = {"login": LEAK_LOGIN, "pass": LEAK_PASS + "-r2", "secret_key": LEAK_SECRET_KEY + "-r2"}


@pytest.fixture
def merchant_secret() -> dict[str, str]:
    """Distinctive credentials, so that any trace of them in an output is found."""
    return dict(LEAK_SECRET)


@dataclass
class Logs:
    """The function's own log output (its JSON lines) and every record the root logger saw."""

    function_output: io.StringIO
    caplog: pytest.LogCaptureFixture

    def texts(self) -> list[str]:
        return [self.function_output.getvalue(), *(record_text(r) for r in self.caplog.records)]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Logs]:
    """The function's logger and the root logger at DEBUG, their output captured."""
    from cashout_cancel.observability import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    previous_stream, previous_level = handler.setStream(output), logger.log_level
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield Logs(output, caplog)
    logger.setLevel(previous_level)
    handler.setStream(previous_stream)


@dataclass
class Evidence:
    """Everything a caller or an operator could see, and every signature that was sent."""

    texts: list[str] = field(default_factory=list)
    signatures: set[str] = field(default_factory=set)

    def invoke(self, invoke: Invoke, entry: str, cashout_id: int, external_id: str) -> Any:
        """Run one cancel; keep its response, or the exception it raised."""
        try:
            response = invoke(event_for(entry, cashout_id, external_id))
        except Exception as exc:  # EventBridge failures are raised; keep all of their text
            self.texts.append(exception_text(exc))
            return getattr(exc, "outcome", None)
        self.texts.append(json.dumps(response, default=repr))
        body = json.loads(response["body"]) if "body" in response else response
        return body["outcome"]

    def collect_signatures(self, d24: D24Sandbox) -> None:
        self.signatures |= {r.header("Payload-Signature") or "" for r in d24.received()} - {""}


def exception_text(exc: BaseException) -> str:
    """The exception's traceback with its chained causes, its repr and its attributes."""
    parts = ["".join(traceback.format_exception(exc))]
    while exc is not None:
        parts += [repr(exc), repr(vars(exc))]
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return "\n".join(parts)


def record_text(record: logging.LogRecord) -> str:
    formatted = logging.Formatter().format(record)  # message, exception and stack, if any
    return formatted + repr(vars(record))


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES)
def test_no_credential_or_signature_leaks_under_any_fault(
    entry: str,
    invoke: Invoke,
    d24: D24Sandbox,
    secrets: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    debug_logs: Logs,
) -> None:
    from cashout_cancel import container

    monkeypatch.setenv("D24_TIMEOUT_SECONDS", str(READ_TIMEOUT))
    seen = Evidence()

    # Given every D24 fault of the fault suite, in turn
    for case in D24_FAULTS:
        d24.reset()
        case.arrange(d24)
        outcome = seen.invoke(invoke, entry, case.cashout_id, case.external_id)
        assert outcome == case.outcome, f"{case.id} did not play as in the fault suite"
        seen.collect_signatures(d24)

    # and D24 quoting our credentials back in its error messages
    d24.reset()
    echo = {"code": 300, "message": f"Invalid params: login={LEAK_LOGIN} pass={LEAK_PASS}"}
    d24.inject(Fault.status(400, echo))
    d24.inject(Fault.status(503, echo), times=3)
    d24.inject(Fault.status(412, {**echo, "code": 510}))
    d24.inject(Fault.status(200, echo))
    for _ in range(4):
        seen.invoke(invoke, entry, 1001, "ext-1001")
    seen.collect_signatures(d24)

    # and a secret rotated everywhere (old and new credentials both in play), then at D24 only
    d24.reset()
    d24.set_credentials(password=ROTATED["pass"], secret_key=ROTATED["secret_key"])
    secrets.put_secret_value(SecretId=SECRET_ID, SecretString=json.dumps(ROTATED))
    assert seen.invoke(invoke, entry, 1001, "ext-1001") == "CANCELLED"
    d24.set_credentials(password=ROTATED["pass"] + "-r3")
    assert seen.invoke(invoke, entry, 1002, "ext-1002") == "UPSTREAM_AUTH_FAILED"
    seen.collect_signatures(d24)

    # and every Secrets Manager fault, with the distinctive values in the broken secrets
    for secret_case in SECRET_FAULTS:
        with ExitStack() as stack:
            secret_id = fresh_secret(secrets, monkeypatch, f"leak/{secret_case.id}", LEAK_SECRET)
            world = SecretWorld(secrets, container.secrets_client(), secret_id, LEAK_SECRET, stack)
            secret_case.arrange(world)
            assert seen.invoke(invoke, entry, 1001, "ext-1001") == "CONFIGURATION_ERROR"

    # When everything the function printed, logged, answered and raised is read
    out, err = capfd.readouterr()
    texts = [out, err, *seen.texts, *debug_logs.texts()]

    # Then none of the credentials, nor any signature that was sent, is in any of it
    assert len(seen.signatures) >= 5  # one per body signed: five cashouts, two signing keys
    assert '"outcome":"UPSTREAM_AUTH_FAILED"' in debug_logs.texts()[0]  # it reads real logs
    assert "CONFIGURATION_ERROR" in out  # and the metrics printed to stdout
    for secret in (LEAK_LOGIN, LEAK_PASS, LEAK_SECRET_KEY, *sorted(seen.signatures)):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"{secret[:8]}... leaked in: {leaks[0][:300]}"


def test_d24_quoting_our_signature_does_not_leak_it(
    invoke: Invoke, d24: D24Sandbox, debug_logs: Logs
) -> None:
    from cashout_cancel.credentials.secret import Credentials
    from cashout_cancel.d24.client import encode_body
    from cashout_cancel.d24.signing import sign

    # Given D24 refusing the signature and quoting, in its message, the one we sent
    credentials = Credentials(LEAK_LOGIN, LEAK_PASS, LEAK_SECRET_KEY)
    signature = sign(LEAK_SECRET_KEY, encode_body(credentials, 1001, "ext-1001"))
    quoted = {"code": 302, "message": f"Invalid signature {signature}"}
    d24.inject(Fault.status(403, quoted), times=2)

    # When a caller asks to cancel
    seen = Evidence()
    assert seen.invoke(invoke, "direct", 1001, "ext-1001") == "UPSTREAM_AUTH_FAILED"

    # Then the signature it sent is neither in the answer nor in the logs
    assert {r.header("Payload-Signature") for r in d24.received()} == {signature}
    assert not [text for text in [*seen.texts, *debug_logs.texts()] if signature in text]


# Credentials that JSON escapes (quotes, backslashes, non-ASCII) and URL-encoding changes: D24
# may quote them back as the request carried them, raw, or URL-encoded, in any field it answers.
ESCAPED_SECRET = {
    "login": 'lögin-"q"-\\-Ω7f3',
    "pass": 'pä\\ss-€-"Z4e"',
    "secret_key": 'kéy/"M5"+\\c8 e0&f',
}


def leak_forms(secret: str) -> list[str]:
    """Every form in which `secret` could leave: raw, JSON-escaped both ways, URL-encoded; and
    each of those as it reads inside a JSON document (a log line, an API answer's body)."""
    from urllib.parse import quote, quote_plus

    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    inside_json = {json.dumps(form, ensure_ascii=ascii)[1:-1] for form in forms
                   for ascii in (True, False)}  # fmt: skip
    return sorted(forms | inside_json)


def quote_in_every_field(d24: D24Sandbox, quoted: str) -> None:
    """The next cancel is refused (412) and its status look-up answers Rejected, `quoted` in
    every field D24 answers: a NOT_CANCELLABLE that passes all of them on."""
    d24.reset()
    d24.inject(Fault.status(412, {"code": quoted, "message": quoted}))
    status = {
        "cashout_status": 3,
        "cashout_status_description": quoted,
        "rejection_code": quoted,
        "rejection_reason": quoted,
    }
    d24.inject(Fault.status(200, status), endpoint="status")


@pytest.mark.parametrize(
    "merchant_secret", [ESCAPED_SECRET], ids=["escapable-credentials"], indirect=False
)
def test_no_form_of_a_credential_leaks_from_any_field_d24_answers(
    merchant_secret: dict[str, str], invoke: Invoke, d24: D24Sandbox, debug_logs: Logs,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from cashout_cancel.credentials.secret import Credentials
    from cashout_cancel.d24.client import encode_body
    from cashout_cancel.d24.signing import sign

    credentials = Credentials(*merchant_secret.values())
    secrets = [*merchant_secret.values()]
    seen = Evidence()
    for cashout_id in (1001, 2003):
        # The request exactly as sent (JSON-escaped), and its signature
        body = encode_body(credentials, cashout_id, f"ext-{cashout_id}").decode()
        signature = sign(credentials.secret_key, body.encode())
        for form in [body, signature, *(f for s in secrets for f in leak_forms(s))]:
            # Given D24 quoting it in each field of a refusal and of a status answer
            quote_in_every_field(d24, f"you sent {form}")
            # When a caller asks to cancel
            assert seen.invoke(invoke, "direct", cashout_id, f"ext-{cashout_id}") == (
                "NOT_CANCELLABLE"
            )
            seen.collect_signatures(d24)

    # Then no form of any credential or signature is in any answer, log line or output
    out, err = capfd.readouterr()
    texts = [out, err, *seen.texts, *debug_logs.texts()]
    assert any("withheld" in text for text in seen.texts)
    for secret in [*secrets, *sorted(seen.signatures)]:
        for form in leak_forms(secret):
            leaks = [text for text in texts if form in text]
            assert not leaks, f"a form of a credential leaked: {leaks[0][:300]}"


@pytest.mark.parametrize("caller", ["eventbridge", "sqs"])
@pytest.mark.parametrize(
    "merchant_secret", [ESCAPED_SECRET], ids=["escapable-credentials"], indirect=False
)
def test_no_form_of_a_credential_reaches_a_result_event(
    caller: str, merchant_secret: dict[str, str], invoke: Invoke, d24: D24Sandbox,
    results: ResultsTap,
) -> None:  # fmt: skip
    from cashout_cancel.credentials.secret import Credentials
    from cashout_cancel.d24.client import encode_body
    from cashout_cancel.d24.signing import sign

    credentials = Credentials(*merchant_secret.values())
    secrets = [*merchant_secret.values()]
    signatures: set[str] = set()
    answers: list[str] = []
    body = encode_body(credentials, 2003, "ext-2003").decode()
    signature = sign(credentials.secret_key, body.encode())
    for form in [body, signature, *(f for s in secrets for f in leak_forms(s))]:
        # Given D24 quoting it in each field of a refusal and of a status answer, which a final
        # NOT_CANCELLABLE passes on to the ledger
        quote_in_every_field(d24, f"you sent {form}")
        # When an asynchronous caller asks to cancel
        request = {"cashout_id": 2003, "external_id": "ext-2003"}
        event = eventbridge_event(request) if caller == "eventbridge" else sqs_event(request)
        answers.append(json.dumps(invoke(event)))
        signatures |= {r.header("Payload-Signature") or "" for r in d24.received()} - {""}

    # Then every result was published, and no form of any credential or signature is in it
    published = [json.dumps(event) for event in results.events()]
    assert len(published) == len(answers)
    assert all('"outcome": "NOT_CANCELLABLE"' in event for event in published)
    assert any("withheld" in event for event in published)
    assert signatures == {signature}
    for secret in [*secrets, signature]:
        for form in leak_forms(secret):
            leaks = [text for text in [*published, *answers] if form in text]
            assert not leaks, f"a form of a credential reached a result event: {leaks[0][:300]}"
