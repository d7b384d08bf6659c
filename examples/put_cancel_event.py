"""Ask for a cancel with an event: `Cashout Cancel Requested` on the bus the rule watches.

Nobody waits for the answer: the function publishes `Cashout Cancel Completed` (source
`cashout-cancel`) on the results bus with the result and `request_id` = your event's id. Match
it in your ledger with a rule such as
{"source": ["cashout-cancel"], "detail-type": ["Cashout Cancel Completed"]}.
A failure the function cannot resolve is retried by Lambda and, in the end, lands in the
failure queue (replay it with `.venv-ops/bin/cashout-ops replay`).
"""

from __future__ import annotations

import json
from typing import Any


def request_cancel(events_client: Any, bus: str, cashout_id: int, external_id: str) -> str:
    """Put the request on `bus`; its event id, which the published result carries back."""
    response = events_client.put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "payouts.backoffice",  # any source of yours (not aws.*)
                "DetailType": "Cashout Cancel Requested",
                "Detail": json.dumps({"cashout_id": cashout_id, "external_id": external_id}),
            }
        ]
    )
    [entry] = response["Entries"]
    if "ErrorCode" in entry:  # PutEvents reports failures per entry, not as an exception
        raise RuntimeError(
            f"the event was not accepted: {entry['ErrorCode']} {entry.get('ErrorMessage')}"
        )
    event_id: str = entry["EventId"]
    return event_id


if __name__ == "__main__":  # python -m examples.put_cancel_event BUS CASHOUT_ID EXTERNAL_ID
    import sys

    import boto3

    print(request_cancel(boto3.client("events"), sys.argv[1], int(sys.argv[2]), sys.argv[3]))
