"""The yardsticks: the floor (a signed cancel on a keep-alive `requests.Session`, nothing else)
and the naive handler (a client, the secret and a connection made anew per invocation)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import boto3
import requests


def credentials() -> dict[str, str]:
    """The D24 credentials, read from Secrets Manager with a new client."""
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["D24_SECRET_ID"])
    return dict(json.loads(secret["SecretString"]))


class Floor:
    """One signed cancel per call, on its own keep-alive session."""

    def __init__(self, secret: dict[str, str], session: requests.Session | None = None) -> None:
        self._secret, self._session = secret, session or requests.Session()
        self._session.trust_env = session is not None  # the naive handler's scans them

    def cancel(self, cashout_id: int, external_id: str) -> int:
        """DELETE /cashout/cancel for one cashout; raises unless D24 cancelled it."""
        login, password, key = (self._secret[k] for k in ("login", "pass", "secret_key"))
        payload = {"login": login, "pass": password, "cashout_id": cashout_id}
        body = json.dumps(payload | {"external_id": external_id}, separators=(",", ":")).encode()
        signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "Payload-Signature": signature}
        url, timeout = os.environ["D24_BASE_URL"] + "/cashout/cancel", (2, 5)
        answer = self._session.request("DELETE", url, data=body, headers=headers, timeout=timeout)
        if answer.status_code != 200 or answer.json().get("cashout_status") != 2:
            raise RuntimeError(f"the floor's cancel failed: {answer.status_code}")
        return cashout_id


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The naive handler: cancel the cashout in a REST API event, building everything anew."""
    cashout_id, body = int(event["pathParameters"]["cashout_id"]), json.loads(event["body"])
    with requests.Session() as session:
        Floor(credentials(), session).cancel(cashout_id, body["external_id"])
    result = {"outcome": "CANCELLED", "cashout_id": cashout_id, "external_id": body["external_id"]}
    print(json.dumps({"level": "INFO", "message": "cancel finished", **result}))
    return {"statusCode": 200, "body": json.dumps(result)}
