"""Shared fixtures: a real D24 sandbox on a loopback socket, Secrets Manager from moto, the
function's environment, a Lambda context, and `invoke` to run events through the real handler."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.d24_sandbox import D24Sandbox
from local.lambda_context import LambdaContext as LambdaContext  # noqa: PLC0414 - re-exported

SECRET_ID = "cashout-cancel/d24"
RESULTS_BUS = "cashout-cancel-results"
LOGIN = "merchant-login"
PASSWORD = "merchant-pass"
SECRET_KEY = "merchant-signing-key"


@pytest.fixture(autouse=True)
def _fresh_function(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts from a cold container: nothing cached, tracing off."""
    from cashout_cancel import container

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CashoutCancelTests")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    container.reset()
    yield
    container.reset()


@pytest.fixture
def merchant_secret() -> dict[str, str]:
    """The merchant's D24 credentials, as the secret holds them (override to use others)."""
    return {"login": LOGIN, "pass": PASSWORD, "secret_key": SECRET_KEY}


@pytest.fixture
def d24(merchant_secret: dict[str, str]) -> Iterator[D24Sandbox]:
    """A fresh D24 sandbox with the seeded cashouts and the merchant's credentials."""
    with D24Sandbox(
        login=merchant_secret["login"],
        password=merchant_secret["pass"],
        secret_key=merchant_secret["secret_key"],
    ) as sandbox:
        yield sandbox


@pytest.fixture
def secrets(merchant_secret: dict[str, str]) -> Iterator[Any]:
    """Secrets Manager (moto) holding the merchant's D24 secret."""
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name=SECRET_ID, SecretString=json.dumps(merchant_secret))
        yield client


class ResultsTap:
    """What reached the results bus: a rule on it forwards every event to a queue read here."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._queue_url = sqs, queue_url
        self._seen: list[tuple[dict[str, Any], float]] = []  # each event, and when it was put

    def events(self) -> list[dict[str, Any]]:
        """Every event published so far, oldest first (EventBridge's envelope, detail parsed)."""
        return [event for event, _ in self._read()]

    def details(self) -> list[dict[str, Any]]:
        """The detail of every event published so far."""
        return [event["detail"] for event in self.events()]

    def put_at(self) -> list[float]:
        """When each event was put on the bus (time.time(), to the millisecond), oldest first."""
        return [at for _, at in self._read()]

    def _read(self) -> list[tuple[dict[str, Any], float]]:
        while True:
            batch = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            messages = batch.get("Messages", [])
            if not messages:
                return list(self._seen)
            for message in messages:
                sent = int(message["Attributes"]["SentTimestamp"]) / 1000
                self._seen.append((json.loads(message["Body"]), sent))
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def results(secrets: Any) -> ResultsTap:
    """The results bus (moto), with a tap that shows what the function put on it."""
    events = boto3.client("events", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    events.create_event_bus(Name=RESULTS_BUS)
    queue_url = sqs.create_queue(QueueName="results-tap")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    pattern = json.dumps({"source": [{"prefix": ""}]})
    events.put_rule(Name="tap", EventBusName=RESULTS_BUS, EventPattern=pattern)
    events.put_targets(
        Rule="tap",
        EventBusName=RESULTS_BUS,
        Targets=[{"Id": "tap", "Arn": attributes["Attributes"]["QueueArn"]}],
    )
    return ResultsTap(sqs, queue_url)


# EventBridge refuses a PutEvents request whose entries total more than 256 KiB; moto does not.
EVENTBRIDGE_REQUEST_LIMIT = 256 * 1024


def eventbridge_entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge documents it (Time 14 bytes; Source, DetailType, Detail and
    each resource in UTF-8), and EventBusName too: stricter than documented, never laxer."""
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail", "EventBusName"):
        size += len(str(entry.get(name) or "").encode("utf-8"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources") or ())


@pytest.fixture
def put_events_sizes(results: ResultsTap) -> Iterator[list[int]]:
    """The results bus as EventBridge sizes it: the function's PutEvents requests over 256 KiB are
    refused whole (ValidationException), as EventBridge refuses them; yields the size of every
    request the function made, refused or not."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    from cashout_cancel import container

    sizes: list[int] = []

    def refuse_oversized(params: dict[str, Any], **_: Any) -> Any:
        entries = json.loads(params["body"])["Entries"]
        sizes.append(sum(eventbridge_entry_size(entry) for entry in entries))
        if sizes[-1] <= EVENTBRIDGE_REQUEST_LIMIT:
            return None
        message = "Total size of the entries in the request is over the limit."
        error = {"Code": "ValidationException", "Message": message}
        return AWSResponse("https://events.local", 400, HTTPHeaders(), None), {"Error": error}

    client = container.events_client()
    client.meta.events.register("before-call.events.PutEvents", refuse_oversized)
    yield sizes
    client.meta.events.unregister("before-call.events.PutEvents", refuse_oversized)


@pytest.fixture
def function_env(
    monkeypatch: pytest.MonkeyPatch, d24: D24Sandbox, secrets: Any, results: ResultsTap
) -> D24Sandbox:
    """The function configured against the sandbox, with short timeouts and backoff for tests."""
    monkeypatch.setenv("D24_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("RESULTS_EVENT_BUS", RESULTS_BUS)
    monkeypatch.setenv("D24_BASE_URL", d24.base_url)
    monkeypatch.setenv("D24_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("D24_CONNECT_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("D24_BACKOFF_BASE_SECONDS", "0.01")
    monkeypatch.setenv("D24_BACKOFF_MAX_SECONDS", "0.05")
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "200")
    return d24


Invoke = Callable[..., Any]
SecretReads = list[str]


@pytest.fixture
def secret_reads(function_env: D24Sandbox) -> SecretReads:
    """Every GetSecretValue the function's own Secrets Manager client makes."""
    from cashout_cancel import container

    reads: SecretReads = []

    def count(**_: Any) -> None:
        reads.append("GetSecretValue")

    container.secrets_client().meta.events.register(
        "before-call.secrets-manager.GetSecretValue", count
    )
    return reads


@pytest.fixture
def invoke(function_env: D24Sandbox) -> Invoke:
    """Run one event through the real handler with a fresh Lambda context."""
    from cashout_cancel.handler import lambda_handler

    def _invoke(event: Any, remaining_ms: float = 10_000) -> Any:
        return lambda_handler(event, LambdaContext(remaining_ms=remaining_ms))

    return _invoke


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of an API Gateway proxy response."""
    assert response["headers"]["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(response["body"])
    return body
