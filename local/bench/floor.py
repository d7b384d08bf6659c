"""The yardsticks. The floor: one signed D24 cancel on a keep-alive `requests.Session`, answer
parsed, and nothing else (`trust_env = False` spares requests its per-call scan of proxy, netrc and
CA variables). The naive handler: the cancel handler as a first draft might write it, answering
the REST API event but making a boto3 client, reading the secret and opening a connection to D24
(`requests.delete`, a throw-away Session) on every invocation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import requests


class Floor:
    """Sends one signed cancel per call and reads its answer."""

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self._url, self._credentials = base_url + "/cashout/cancel", credentials
        self._session = requests.Session()
        self._session.trust_env = False

    def cancel(self, cashout_id: int, external_id: str) -> None:
        """DELETE /cashout/cancel for one cashout; raises unless D24 cancelled it."""
        login, password = self._credentials["login"], self._credentials["pass"]
        payload = {"login": login, "pass": password, "cashout_id": cashout_id}
        body = json.dumps(payload | {"external_id": external_id}, separators=(",", ":")).encode()
        key = self._credentials["secret_key"].encode()
        headers = {
            "Content-Type": "application/json",
            "Payload-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
            "User-Agent": "cashout-cancel-bench/1.0",
        }
        response = self._session.request(
            "DELETE", self._url, data=body, headers=headers, timeout=(2, 5), allow_redirects=False
        )
        if response.status_code != 200 or response.json().get("cashout_status") != 2:
            raise RuntimeError(f"the floor's cancel failed: {response.status_code}")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Cancel the cashout in a REST API event, the naive way."""
    import boto3

    client = boto3.client("secretsmanager")
    secret = json.loads(
        client.get_secret_value(SecretId=os.environ["D24_SECRET_ID"])["SecretString"]
    )
    cashout_id = int(event["pathParameters"]["cashout_id"])
    external_id = json.loads(event["body"])["external_id"]
    payload = {"login": secret["login"], "pass": secret["pass"], "cashout_id": cashout_id}
    body = json.dumps(payload | {"external_id": external_id}).encode()
    signature = hmac.new(secret["secret_key"].encode(), body, hashlib.sha256).hexdigest()
    response = requests.delete(
        os.environ["D24_BASE_URL"] + "/cashout/cancel",
        data=body,
        headers={"Content-Type": "application/json", "Payload-Signature": signature},
        timeout=float(os.environ.get("D24_TIMEOUT_SECONDS", "5")),
    )
    outcome = "CANCELLED" if response.json().get("cashout_status") == 2 else "FAILED"
    result = {"outcome": outcome, "cashout_id": cashout_id, "external_id": external_id}
    print(json.dumps({"level": "INFO", "message": "cancel finished", **result}))
    status = 200 if outcome == "CANCELLED" else 502
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(result),
    }
