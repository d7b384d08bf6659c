"""The AWS side of the bulk run, on the local moto endpoint: the cancel queue and its dead-letter
queue as template.yaml declares them, a tap on the results bus, and plain SQS reads and sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

# template.yaml's retention periods: 4 days for CancelQueue, 14 for its dead-letter queue.
CANCEL_QUEUE_RETENTION = 345_600
DEAD_LETTER_RETENTION = 1_209_600
TAP_RULE = "bulk-demo-results-tap"
BATCH = 10  # the most SQS takes or gives in one call
READ_PAUSE_SECONDS = 0.05  # between reads of the tap queue while it is empty


@dataclass(frozen=True)
class CancelQueues:
    """CancelQueue and CancelDeadLetterQueue, with the redrive policy between them."""

    url: str
    arn: str
    dead_letter_url: str
    visibility_timeout: int
    max_receive_count: int


def create_cancel_queues(
    sqs: SQSClient, *, visibility_timeout: int, max_receive_count: int
) -> CancelQueues:
    """Both queues, empty (moto keeps one store per process: a second run finds the first's)."""
    dead_letter_url = _empty_queue(
        sqs, "CancelDeadLetterQueue", {"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION)}
    )
    redrive = {
        "deadLetterTargetArn": arn_of(sqs, dead_letter_url),
        "maxReceiveCount": max_receive_count,
    }
    url = _empty_queue(
        sqs,
        "CancelQueue",
        {
            "VisibilityTimeout": str(visibility_timeout),
            "MessageRetentionPeriod": str(CANCEL_QUEUE_RETENTION),
            "RedrivePolicy": json.dumps(redrive),
        },
    )
    return CancelQueues(
        url, arn_of(sqs, url), dead_letter_url, visibility_timeout, max_receive_count
    )


def _empty_queue(sqs: SQSClient, name: str, attributes: dict[str, str]) -> str:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]
    sqs.purge_queue(QueueUrl=url)
    return url


def arn_of(sqs: SQSClient, queue_url: str) -> str:
    """A queue's ARN."""
    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return answer["Attributes"]["QueueArn"]


class ResultsTap:
    """What reaches the results bus from now on: a rule on it forwards each result event to a
    queue, read here (the ledger's view, CONTRACT section 10).

    The queue is read all along, on a thread of its own, not once at the end: moto's SQS works
    out the queue's message counts on every message sent or received, so a queue that holds
    hundreds of messages makes each call slower (a publish inside the function among them).
    """

    def __init__(self, events: EventBridgeClient, sqs: SQSClient, bus: str) -> None:
        self._sqs = sqs
        self.url = _empty_queue(sqs, "bulk-demo-results-tap", {})
        pattern = {"source": ["cashout-cancel"], "detail-type": ["Cashout Cancel Completed"]}
        events.put_rule(Name=TAP_RULE, EventBusName=bus, EventPattern=json.dumps(pattern))
        # Only the detail (the result) is forwarded. moto builds a JSON-path parser for every
        # path of the default input template (eight) on every event, ~10 ms an event, inside the
        # function's PutEvents call; with one path it is a few milliseconds.
        events.put_targets(
            Rule=TAP_RULE,
            EventBusName=bus,
            Targets=[
                {
                    "Id": "tap",
                    "Arn": arn_of(sqs, self.url),
                    "InputTransformer": {
                        "InputPathsMap": {"detail": "$.detail"},
                        "InputTemplate": '{"detail": <detail>}',
                    },
                }
            ],
        )
        self._bodies: list[str] = []
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._reader = threading.Thread(target=self._read, name="results-tap", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                read = read_all(self._sqs, self.url)
                self._bodies += read
                if not read:
                    self._stop.wait(READ_PAUSE_SECONDS)
        except BaseException as exc:  # re-raised by details()
            self._errors.append(exc)

    def details(self) -> list[dict[str, Any]]:
        """Stop reading: the detail of every result event published since the tap was made."""
        self._stop.set()
        self._reader.join()
        if self._errors:
            raise self._errors[0]
        self._bodies += read_all(self._sqs, self.url)
        return [json.loads(body)["detail"] for body in self._bodies]


def send_raw(sqs: SQSClient, queue_url: str, bodies: Sequence[str]) -> None:
    """Send message bodies as they are, ten to a call, as any producer could."""
    for start in range(0, len(bodies), BATCH):
        chunk = bodies[start : start + BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(chunk)],
        )
        if answer.get("Failed"):
            raise RuntimeError(f"SQS refused raw messages: {answer['Failed']}")


def read_all(sqs: SQSClient, queue_url: str) -> list[str]:
    """The body of every message now visible in a queue, read and deleted."""
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=BATCH).get(
            "Messages", []
        )
        if not messages:
            return bodies
        bodies += [message["Body"] for message in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
                for n, message in enumerate(messages)
            ],
        )


def messages_left(sqs: SQSClient, queue_url: str) -> int:
    """Messages in a queue, visible, in flight or delayed."""
    answer = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )
    return sum(int(count) for count in answer["Attributes"].values())
