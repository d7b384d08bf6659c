"""The cancel message: the direct-invoke object as JSON, the body of every cancel queue message
and the detail of every replayed "Cashout Cancel Requested" event (docs/contract.md sections 1, 9,
11)."""

from __future__ import annotations

import json
from typing import Any

from ops.function import CancelRequest


def cancel_json(request: CancelRequest, merchant: str | None = None) -> str:
    """`{"cashout_id": <int>, "external_id": "<str>"}`, cashout_id always a JSON integer, with
    `"merchant"` only when the line names an account (absent: the default account)."""
    body: dict[str, Any] = {"cashout_id": request.cashout_id, "external_id": request.external_id}
    if merchant:
        body["merchant"] = merchant
    return json.dumps(body)
