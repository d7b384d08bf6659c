"""SQS and EventBridge from moto, queues to send to and read from, and the failure messages of
each shape (tests/ops/messages/, written from AWS's documented examples)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

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
