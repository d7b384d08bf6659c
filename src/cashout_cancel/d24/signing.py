"""D24 request signing: HMAC-SHA256 over the exact bytes sent."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret_key: str, body: bytes) -> str:
    """Return the `Payload-Signature` header value: lowercase hex HMAC-SHA256 of `body`."""
    return hmac.new(secret_key.encode("utf-8"), body, hashlib.sha256).hexdigest()
