"""What D24 says, as plain facts: its cashout statuses, its errors, and the HTTP statuses with
which it refuses credentials. No HTTP here, so that the outcome table can use them cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The statuses with which D24 refuses the credentials or the signature.
AUTH_REFUSED = frozenset({401, 403})

# D24 cashout status codes (docs/contract.md section 2).
CASHOUT_STATUS_NAMES: dict[int, str] = {
    0: "Pending",
    1: "Completed",
    2: "Cancelled",
    3: "Rejected",
    4: "Delivered",
    5: "On hold",
}
CANCELLED_STATUS = 2


@dataclass(frozen=True)
class UpstreamError:
    """What D24 answered when it answered with an error: facts only, never our request."""

    http_status: int
    code: int | str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The `upstream` field of the result."""
        return {"http_status": self.http_status, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class CashoutStatus:
    """A cashout's status as D24 reported it."""

    code: int
    description: str
    rejection_code: Any = None
    rejection_reason: Any = None

    @property
    def is_cancelled(self) -> bool:
        """True when D24 holds the cashout cancelled."""
        return self.code == CANCELLED_STATUS
