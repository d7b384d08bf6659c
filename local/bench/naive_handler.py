"""The yardstick: the cancel handler as a first draft might write it.

It works, and it answers the REST API event like the real function does, but on every invocation
it builds a new boto3 client, reads the secret from Secrets Manager and opens a new connection to
D24 (`requests.delete` makes a throw-away Session, which also re-reads the proxy environment).
The benchmark holds the real handler to at least 8 times this one's speed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import boto3
import requests


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Cancel the cashout in a REST API event, the naive way."""
    client = boto3.client("secretsmanager")
    secret = json.loads(
        client.get_secret_value(SecretId=os.environ["D24_SECRET_ID"])["SecretString"]
    )
    cashout_id = int(event["pathParameters"]["cashout_id"])
    external_id = json.loads(event["body"])["external_id"]
    body = json.dumps(
        {
            "login": secret["login"],
            "pass": secret["pass"],
            "cashout_id": cashout_id,
            "external_id": external_id,
        }
    ).encode()
    response = requests.delete(
        os.environ["D24_BASE_URL"] + "/cashout/cancel",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Payload-Signature": hmac.new(
                secret["secret_key"].encode(), body, hashlib.sha256
            ).hexdigest(),
            "User-Agent": "cashout-cancel-naive/1.0",
        },
        timeout=float(os.environ.get("D24_TIMEOUT_SECONDS", "5")),
    )
    answer = response.json()
    outcome = "CANCELLED" if answer.get("cashout_status") == 2 else "FAILED"
    result = {"outcome": outcome, "cashout_id": cashout_id, "external_id": external_id}
    print(json.dumps({"level": "INFO", "message": "cancel finished", **result}))
    return {
        "statusCode": 200 if outcome == "CANCELLED" else 502,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(result),
    }
