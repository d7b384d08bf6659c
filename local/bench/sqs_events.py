"""SQS batches for the bulk benchmark, as Lambda's SQS event source hands them to the function.

The records are built by the local event source's own `lambda_event` (local/sqs_event_source.py,
the shape of `sam local generate-event sqs receive-message`) from messages shaped as
ReceiveMessage returns them, so the benchmark's events and the demo's cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from local.events import received_sqs_event
from local.lambda_context import ACCOUNT_ID, REGION

from .lambda_like import external_id

QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:cashout-cancel-CancelQueue"


def message(cashout_id: int, n: int) -> dict[str, Any]:
    """The message that cancels `cashout_id`, received once, as ReceiveMessage returns it."""
    body = json.dumps({"cashout_id": cashout_id, "external_id": external_id(cashout_id)})
    sent = int(time.time() * 1000)
    return {
        "MessageId": f"bench000-0000-4000-8000-{n:012d}",
        "ReceiptHandle": f"AQEBbench{n:012d}",
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's digest
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": ACCOUNT_ID,
            "ApproximateFirstReceiveTimestamp": str(sent + 1),
        },
    }


def batch(first_id: int, size: int, first_n: int) -> dict[str, Any]:
    """The event for `size` messages cancelling cashouts `first_id`..; message numbers from
    `first_n` on (each message id is new)."""
    messages = [message(first_id + k, first_n + k) for k in range(size)]
    return received_sqs_event(messages, QUEUE_ARN)
