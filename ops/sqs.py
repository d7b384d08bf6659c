"""The SQS calls the tools make: send in batches, receive, delete, and hand messages back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ops.batches import BatchCall, Entry, Refused

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def send_batch(client: SQSClient, queue_url: str) -> BatchCall:
    """SendMessageBatch to `queue_url`; an entry SQS blames on the sender is not resent."""

    def call(entries: Sequence[Entry]) -> tuple[list[str], dict[str, Refused]]:
        answer = client.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": entry.id, "MessageBody": entry.body} for entry in entries],
        )
        taken = [ok["Id"] for ok in answer.get("Successful", [])]
        refused = {
            bad["Id"]: Refused(reason(bad["Code"], bad.get("Message")), not bad["SenderFault"])
            for bad in answer.get("Failed", [])
        }
        return taken, refused

    return call


def reason(code: str | None, message: str | None) -> str:
    """An AWS error code and its message, as one short phrase."""
    return f"{code}: {message}" if message else str(code)


def receive(
    client: SQSClient, queue_url: str, visibility_seconds: int, wait_seconds: int
) -> list[dict[str, Any]]:
    """Up to 10 messages with their attributes, hidden from others for `visibility_seconds`."""
    answer = client.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility_seconds,
        WaitTimeSeconds=wait_seconds,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    return [dict(message) for message in answer.get("Messages", [])]


def delete(client: SQSClient, queue_url: str, receipts: dict[str, str]) -> dict[str, str]:
    """Delete messages by id -> receipt handle; returns the ids SQS did not delete, with why."""
    if not receipts:
        return {}
    answer = client.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[{"Id": key, "ReceiptHandle": receipt} for key, receipt in receipts.items()],
    )
    return {bad["Id"]: reason(bad["Code"], bad.get("Message")) for bad in answer.get("Failed", [])}


def release(client: SQSClient, queue_url: str, receipts: dict[str, str]) -> None:
    """Make messages visible again at once (those a run read but leaves in the queue)."""
    items = list(receipts.items())
    for start in range(0, len(items), 10):
        client.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": key, "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                for key, receipt in items[start : start + 10]
            ],
        )
