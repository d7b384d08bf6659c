"""Several merchant accounts for the tests (docs/contract.md section 11): each at D24 (the sandbox,
with its own credentials and cashouts) and in Secrets Manager (moto, under the prefix), and one way
to ask any caller to cancel for one of them and read the answer alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.d24_sandbox import D24Sandbox
from local.events import api_http_event, api_rest_event, eventbridge_event, sqs_event
from tests.conftest import LambdaContext, ResultsTap

PREFIX = "cashout-cancel/d24/"
ENTRIES = ("api-rest", "api-http", "eventbridge", "direct", "sqs")
ABSENT = object()  # a request without the merchant field
CASHOUTS = range(3001, 3011)  # every named account holds these, each with its own external ids


def external_id(merchant: str, cashout_id: int) -> str:
    """A named account's external id for `cashout_id`: unique across accounts, so that what D24
    received tells whose request it was."""
    return f"{merchant}-{cashout_id}"


def credentials_for(merchant: str, generation: int = 1) -> dict[str, str]:
    """Distinctive credentials of one account (a later generation after a rotation)."""
    suffix = "" if generation == 1 else f"-r{generation}"
    short = merchant[:20]  # D24's login and pass are at most 32 characters
    return {
        "login": f"{short}-login{suffix}",
        "pass": f"{short}-pass{suffix}",
        "secret_key": f"{merchant}-key{suffix}",
    }


@dataclass
class Merchants:
    """The named accounts of one test, at D24 and in Secrets Manager."""

    d24: D24Sandbox
    secrets: Any  # a moto Secrets Manager client
    reads: list[str] = field(default_factory=list)  # every SecretId the function read

    def add(self, merchant: str, secret: dict[str, str] | str | None = None) -> dict[str, str]:
        """An account at D24 holding CASHOUTS, Pending, and its secret (its credentials unless
        `secret` says otherwise: a SecretString, or "" for no secret at all)."""
        credentials = credentials_for(merchant)
        self.d24.add_account(
            merchant,
            login=credentials["login"],
            password=credentials["pass"],
            secret_key=credentials["secret_key"],
        )
        for cashout_id in CASHOUTS:
            self.d24.add_cashout(cashout_id, external_id(merchant, cashout_id), account=merchant)
        if secret != "":
            value = secret if isinstance(secret, str) else json.dumps(secret or credentials)
            self.secrets.create_secret(Name=PREFIX + merchant, SecretString=value)
        return credentials

    def rotate_at_d24(self, merchant: str) -> dict[str, str]:
        """D24 now holds the account's next credentials; Secrets Manager still the old ones."""
        new = credentials_for(merchant, 2)
        self.d24.set_credentials(
            login=new["login"], password=new["pass"], secret_key=new["secret_key"], account=merchant
        )
        return new

    def rotate_everywhere(self, merchant: str) -> dict[str, str]:
        """D24 and Secrets Manager both hold the account's next credentials."""
        new = self.rotate_at_d24(merchant)
        self.secrets.put_secret_value(SecretId=PREFIX + merchant, SecretString=json.dumps(new))
        return new

    def reads_of(self, merchant: str | None) -> int:
        """How often the function read the account's secret (None: any other secret)."""
        if merchant is None:
            return sum(1 for secret_id in self.reads if not secret_id.startswith(PREFIX))
        return self.reads.count(PREFIX + merchant)

    def sent_for(self, merchant: str) -> int:
        """How many requests D24 received carrying one of the account's external ids."""
        return sum(
            1
            for received in self.d24.received()
            if str(_json_or_none(received.body, "external_id")).startswith(f"{merchant}-")
        )


def _json_or_none(body: bytes, key: str) -> Any:
    try:
        return json.loads(body).get(key)
    except (ValueError, AttributeError):
        return None


def count_reads(reads: list[str]) -> None:
    """Record every SecretId the function's own Secrets Manager client asks for in `reads`."""
    from cashout_cancel import container

    def record(params: dict[str, Any], **_: Any) -> None:
        reads.append(params["SecretId"])

    container.secrets_client().meta.events.register(
        "provide-client-params.secrets-manager.GetSecretValue", record
    )


def fields(cashout_id: Any, external: Any, merchant: Any = ABSENT) -> dict[str, Any]:
    """A request's fields, with `merchant` only when given (None: given as null)."""
    found = {"cashout_id": cashout_id, "external_id": external}
    if merchant is not ABSENT:
        found["merchant"] = merchant
    return found


@dataclass
class Answer:
    """What a caller got: the status code and result fields (for SQS, from the published event),
    whether the handler raised (EventBridge), whether SQS gets it back, and what was published."""

    status_code: int | None
    body: dict[str, Any]
    raised: BaseException | None = None
    redelivered: bool = False
    published: list[dict[str, Any]] = field(default_factory=list)


Invoke = Callable[..., Any]


def ask(invoke: Invoke, results: ResultsTap, entry: str, request: dict[str, Any]) -> Answer:
    """Send `request` through `entry` and read the answer, and what reached the results bus."""
    from cashout_cancel.callers.eventbridge import RetryableFailure

    if entry == "sqs":
        event = sqs_event(request)
        message_id = event["Records"][0]["messageId"]
        response = invoke(event)
        published = [d for d in results.details() if d["request_id"] == message_id]
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        body = published[0] if published else {}
        return Answer(body.get("statusCode"), body, None, message_id in failed, published)
    if entry == "eventbridge":
        event = eventbridge_event(request)
        try:
            body = invoke(event)
        except RetryableFailure as failure:
            return Answer(failure.status_code, {"outcome": failure.outcome}, failure)
        published = [d for d in results.details() if d["request_id"] == event["id"]]
        return Answer(body["statusCode"], body, published=published)
    if entry in ("api-rest", "api-http"):
        build = api_rest_event if entry == "api-rest" else api_http_event
        cashout_id = request["cashout_id"]
        body_fields = {k: v for k, v in request.items() if k != "cashout_id"}
        response = invoke(build(cashout_id, body_fields))
        assert response["headers"]["Content-Type"] == "application/json"
        return Answer(response["statusCode"], json.loads(response["body"]))
    body = invoke(request)
    return Answer(body["statusCode"], body)


def invoke_with(remaining_ms: float = 10_000) -> Invoke:
    """The real handler with a fresh Lambda context per call."""
    from cashout_cancel.handler import lambda_handler

    return lambda event: lambda_handler(event, LambdaContext(remaining_ms=remaining_ms))
