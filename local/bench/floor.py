"""The yardsticks. The floor: a signed D24 cancel on a keep-alive `requests.Session` with
`trust_env = False` (no per-call scan of proxy, netrc and CA variables), answer parsed, nothing
else. The naive handler: a first draft's, which makes a boto3 client, reads the secret and opens
a connection (`requests.delete`'s throw-away Session) on every invocation."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import requests


class Floor:
    """A Secrets Manager read when made, then one signed cancel per call on its own session."""

    def __init__(self, session: requests.Session | None = None) -> None:
        import boto3

        secret_id = os.environ["D24_SECRET_ID"]
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
        self._secret, self._session = json.loads(secret["SecretString"]), session
        if session is None:
            self._session = requests.Session()
            self._session.trust_env = False

    def cancel(self, cashout_id: int, external_id: str) -> int:
        """DELETE /cashout/cancel for one cashout; raises unless D24 cancelled it."""
        login, password, key = (self._secret[k] for k in ("login", "pass", "secret_key"))
        payload = {"login": login, "pass": password, "cashout_id": cashout_id}
        body = json.dumps(payload | {"external_id": external_id}, separators=(",", ":")).encode()
        signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "Payload-Signature": signature}
        url, timeout = os.environ["D24_BASE_URL"] + "/cashout/cancel", (2, 5)
        answer = self._session.request("DELETE", url, data=body, headers=headers, timeout=timeout)  # type: ignore[union-attr]
        if answer.status_code != 200 or answer.json().get("cashout_status") != 2:
            raise RuntimeError(f"the floor's cancel failed: {answer.status_code}")
        return cashout_id


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The naive handler: cancel the cashout in a REST API event, building everything anew."""
    cashout_id, external_id = (
        int(event["pathParameters"]["cashout_id"]),
        json.loads(event["body"])["external_id"],
    )
    with requests.Session() as session:
        Floor(session).cancel(cashout_id, external_id)
    result = {"outcome": "CANCELLED", "cashout_id": cashout_id, "external_id": external_id}
    print(json.dumps({"level": "INFO", "message": "cancel finished", **result}))
    return {"statusCode": 200, "body": json.dumps(result)}
