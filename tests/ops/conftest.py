"""SQS and EventBridge from moto (in-process, and its server for the command line, reached with
--endpoint-url), queues to send to and read from, and the failure messages of each shape
(tests/ops/messages/, written from AWS's documented examples)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from ops import replay, retrying
from ops.cli import main

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MESSAGES = Path(__file__).resolve().parent / "messages"
REGION = "us-east-1"


@pytest.fixture
def sqs() -> Iterator[SQSClient]:
    """An SQS client against moto (EventBridge too is mocked while it lives)."""
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


@pytest.fixture
def make_queue(sqs: SQSClient) -> Callable[[str], str]:
    """Create a standard queue by name; returns its URL."""

    def make(name: str) -> str:
        return sqs.create_queue(QueueName=name)["QueueUrl"]

    return make


@pytest.fixture
def drain(sqs: SQSClient) -> Callable[[str], list[dict[str, Any]]]:
    """Every message now visible in a queue, read and deleted (the queue's whole content)."""

    def read_all(queue_url: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(dict(message))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return read_all


def failure_message(name: str) -> tuple[str, dict[str, Any]]:
    """A sample message: its body as SQS holds it and its message attributes (SendMessage shape)."""
    sample = json.loads((MESSAGES / f"{name}.json").read_text(encoding="utf-8"))
    if set(sample) == {"body", "attributes"}:
        attributes = {
            key: {"DataType": "String", "StringValue": value}
            for key, value in sample["attributes"].items()
        }
        return json.dumps(sample["body"]), attributes
    return json.dumps(sample), {}


def write_csv(directory: Path, text: str, name: str = "cancels.csv") -> Path:
    """A CSV file with exactly `text` in it."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# --- moto's server, reached with --endpoint-url, as an operator's rehearsal would -------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a loopback port, for every test of this worker (queues are per test)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class LocalAws:
    """The operator's AWS, played by moto's server: make queues, read what reached them."""

    endpoint: str

    def client(self, service: Literal["sqs", "events", "iam"]) -> Any:
        """A client of the local AWS with the test's own credentials."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=LOCAL_KEY,
            aws_secret_access_key=LOCAL_KEY,
        )

    def queue(self) -> str:
        """A new, empty standard queue; its URL."""
        name = f"q-{uuid.uuid4().hex[:12]}"
        url: str = self.client("sqs").create_queue(QueueName=name)["QueueUrl"]
        return url

    def bodies(self, queue_url: str) -> list[dict[str, Any]]:
        """Every message now in the queue, as JSON bodies, read and deleted."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    @property
    def options(self) -> list[str]:
        """What the tool needs to use this AWS: its endpoint and a region."""
        return ["--endpoint-url", self.endpoint, "--region", REGION]


LOCAL_KEY = "local"  # credentials that reach no real account


@pytest.fixture
def local_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    """moto's server as the AWS of an operator's laptop: credentials in the environment, no
    region and no AWS CLI configuration, no instance metadata to ask."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", LOCAL_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", LOCAL_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return LocalAws(moto_endpoint)


def cancels(count: int, first: int = 5000, header: str = "cashout_id,external_id") -> str:
    """A valid file's text: `count` cancels from cashout `first` on."""
    return header + "\n" + "".join(f"{first + i},ext-{first + i}\n" for i in range(count))


@dataclass(frozen=True)
class Ran:
    """One run of the command line: its exit status and what it printed."""

    status: int
    out: str
    err: str


@pytest.fixture
def tool(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """`cashout-ops ARGS...`, run in this process (its code is the console script's).

    A replay's receives do not wait for messages (moto has them all at once), and a send's
    backoff is a hundredth of AWS's: the waits are real, only shorter.
    """
    monkeypatch.setattr(replay, "WAIT_SECONDS", 0)
    monkeypatch.setattr(retrying, "BACKOFF_BASE_SECONDS", retrying.BACKOFF_BASE_SECONDS / 100)

    def run(*argv: str) -> Ran:
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse's own way out, for usage errors and --help
            status = int(exit_.code or 0)
        printed = capsys.readouterr()
        return Ran(status, printed.out, printed.err)

    return run
