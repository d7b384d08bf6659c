"""Cancel from another Lambda (or any AWS client): invoke the function's `live` alias.

The function answers within its timeout (20 s), so the client's read timeout must be longer, or
botocore gives up first and retries, sending the cancel again while the first is still running.
botocore also retries on its own after a connection error; both resends are safe only because a
cancel is idempotent: the second answers ALREADY_CANCELLED, never a second cancel. The result is
returned, not raised (a 502 is a normal answer): read its statusCode.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config

# Longer than the function's 20 s timeout; a few standard retries for throttling and dropped
# connections (each a resend of the same idempotent cancel).
READ_TIMEOUT_SECONDS = 30
CLIENT_CONFIG = Config(
    read_timeout=READ_TIMEOUT_SECONDS,
    connect_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
)


class CancelFailed(Exception):
    """The function answered with a status that is not a final success (see `result`)."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(
            f"{result.get('statusCode')} {result.get('outcome')}: {result.get('message')}"
        )
        self.result = result


def cancel_cashout(
    lambda_client: Any, alias_arn: str, cashout_id: int, external_id: str
) -> dict[str, Any]:
    """The function's result for this cancel; CancelFailed unless it is CANCELLED or
    ALREADY_CANCELLED (a 5xx is worth retrying later; a 4xx is a final answer)."""
    response = lambda_client.invoke(
        FunctionName=alias_arn,  # the `live` alias: FunctionAliasArn in the stack's outputs
        InvocationType="RequestResponse",
        Payload=json.dumps({"cashout_id": cashout_id, "external_id": external_id}).encode(),
    )
    if "FunctionError" in response:  # the function itself failed (Lambda's own error shape)
        raise RuntimeError(f"the function failed: {response['Payload'].read()!r}")
    result: dict[str, Any] = json.loads(response["Payload"].read())
    if result["statusCode"] != 200:
        raise CancelFailed(result)
    return result


if __name__ == "__main__":  # python -m examples.invoke_live_alias ALIAS_ARN CASHOUT_ID EXTERNAL_ID
    import sys

    import boto3

    client = boto3.client("lambda", config=CLIENT_CONFIG)
    print(json.dumps(cancel_cashout(client, sys.argv[1], int(sys.argv[2]), sys.argv[3]), indent=2))
