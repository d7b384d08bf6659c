"""Queue a cancel for the bulk path: one SQS message per cashout on CancelQueue.

The body is the direct-invoke object as JSON. The function works the queue at D24's pace and
publishes each result (`Cashout Cancel Completed`, `request_id` = the message id) on the results
bus. An invalid message is never sent to D24: it comes back until it lands in the dead-letter
queue. For a file of many cashouts use the operators' tool instead:
`.venv-ops/bin/cashout-ops send` (after `make ops`).
"""

from __future__ import annotations

import json
from typing import Any


def queue_cancel(sqs_client: Any, queue_url: str, cashout_id: int, external_id: str) -> str:
    """Send one cancel to the queue; its message id."""
    response = sqs_client.send_message(
        QueueUrl=queue_url,  # CancelQueueUrl in the stack's outputs
        MessageBody=json.dumps({"cashout_id": cashout_id, "external_id": external_id}),
    )
    message_id: str = response["MessageId"]
    return message_id


if __name__ == "__main__":  # python -m examples.send_to_queue QUEUE_URL CASHOUT_ID EXTERNAL_ID
    import sys

    import boto3

    print(queue_cancel(boto3.client("sqs"), sys.argv[1], int(sys.argv[2]), sys.argv[3]))
