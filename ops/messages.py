"""The cancel message: the direct-invoke object as JSON, the body of every cancel queue message
and the detail of every replayed "Cashout Cancel Requested" event (CONTRACT sections 1 and 9)."""

from __future__ import annotations

import json

from cashout_cancel.cancel.request import CancelRequest


def cancel_json(request: CancelRequest) -> str:
    """`{"cashout_id": <int>, "external_id": "<str>"}`: cashout_id always a JSON integer."""
    return json.dumps({"cashout_id": request.cashout_id, "external_id": request.external_id})
