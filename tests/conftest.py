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
from local.secrets_extension import VARIABLES as EXTENSION_VARIABLES
from local.secrets_extension import SecretsExtension

SECRET_ID = "cashout-cancel/d24"
RESULTS_BUS = "cashout-cancel-results"
LOGIN = "merchant-login"
PASSWORD = "merchant-pass"
SECRET_KEY = "merchant-signing-key"
SECRET_READ = "before-call.secrets-manager.GetSecretValue"


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
    # No secrets extension unless a test starts the stand-in (`extension`): the SDK reads.
    for name in ("AWS_SESSION_TOKEN", "AWS_LAMBDA_INITIALIZATION_TYPE", *EXTENSION_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    container.reset()
    yield
    container.reset()


MERCHANT_SECRET = {"login": LOGIN, "pass": PASSWORD, "secret_key": SECRET_KEY}


@pytest.fixture
def merchant_secret() -> dict[str, str]:
    """The merchant's D24 credentials, as the secret holds them (override to use others)."""
    return dict(MERCHANT_SECRET)


@pytest.fixture(scope="session")
def d24_server() -> Iterator[D24Sandbox]:
    """One D24 sandbox per test process (each xdist worker has its own), shared through `d24`."""
    with D24Sandbox(LOGIN, PASSWORD, SECRET_KEY) as sandbox:
        yield sandbox


@pytest.fixture
def d24(d24_server: D24Sandbox, merchant_secret: dict[str, str]) -> Iterator[D24Sandbox]:
    """The D24 sandbox as new: the seeded cashouts, no faults, no latency, an empty request log,
    the merchant's credentials (`reset()` goes back to all that). A request still served when
    the test ends is cut off, so that nothing a test set in motion reaches the next one."""
    if merchant_secret != MERCHANT_SECRET:  # credentials of its own: a sandbox of its own
        login, password = merchant_secret["login"], merchant_secret["pass"]
        with D24Sandbox(login, password, merchant_secret["secret_key"]) as sandbox:
            yield sandbox
        return
    d24_server.reset()
    d24_server.latency = 0.0
    yield d24_server
    d24_server.interrupt()


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


@pytest.fixture
def extension(
    monkeypatch: pytest.MonkeyPatch, function_env: D24Sandbox, secrets: Any
) -> Iterator[SecretsExtension]:
    """The Parameters and Secrets extension (its stand-in) in front of Secrets Manager (moto), and
    the function pointed at it as Lambda points it: the port and a session token."""
    with SecretsExtension(secrets) as running:
        for name, value in running.environment.items():
            monkeypatch.setenv(name, value)
        yield running


Invoke = Callable[..., Any]
SecretReads = list[str]


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


@pytest.fixture
def secret_reads(monkeypatch: pytest.MonkeyPatch) -> SecretReads:
    """Every GetSecretValue call made by any Secrets Manager client the function creates."""
    reads: list[str] = []
    real_client = boto3.client

    def counting_client(*args: Any, **kwargs: Any) -> Any:
        client = real_client(*args, **kwargs)
        client.meta.events.register(SECRET_READ, lambda **_: reads.append("GetSecretValue"))
        return client

    monkeypatch.setattr(boto3, "client", counting_client)
    return reads
