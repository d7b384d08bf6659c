"""The floor: one signed D24 cancel on a keep-alive `requests.Session`, and nothing else.

`trust_env = False` stops requests from scanning proxy, netrc and CA variables on every request:
the fastest honest way to send this request with requests. No handler, no logging, no metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import requests

CANCELLED = 2


class Floor:
    """Sends one signed cancel per call and reads its answer."""

    def __init__(self, base_url: str, credentials: dict[str, str]) -> None:
        self._url = base_url + "/cashout/cancel"
        self._login, self._password = credentials["login"], credentials["pass"]
        self._key = credentials["secret_key"].encode()
        self._session = requests.Session()
        self._session.trust_env = False

    def cancel(self, cashout_id: int, external_id: str) -> dict[str, Any]:
        """DELETE /cashout/cancel for one cashout; raises unless D24 cancelled it."""
        payload = {
            "login": self._login,
            "pass": self._password,
            "cashout_id": cashout_id,
            "external_id": external_id,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Payload-Signature": hmac.new(self._key, body, hashlib.sha256).hexdigest(),
            "User-Agent": "cashout-cancel-bench/1.0",
        }
        response = self._session.request(
            "DELETE",
            self._url,
            data=body,
            headers=headers,
            timeout=(2.0, 5.0),
            allow_redirects=False,
        )
        answer: dict[str, Any] = response.json()
        if response.status_code != 200 or answer.get("cashout_status") != CANCELLED:
            raise RuntimeError(f"the floor's cancel failed: {response.status_code}")
        return answer

    def close(self) -> None:
        """Close the pooled connection."""
        self._session.close()
