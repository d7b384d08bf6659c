"""When a batch call may be tried again, and how long to wait first.

A batch entry AWS reports as failed was not taken: resending it cannot make a duplicate. A whole
call that failed is different: only an answer that says AWS refused it, or a connection that
never reached AWS, proves nothing was taken. A lost answer (a read timeout, a dropped
connection) may hide a batch that was taken, and is never resent.
"""

from __future__ import annotations

import random
from enum import Enum

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0
# Raised before a request leaves: no credentials, an expired login, no region, a bad parameter.
_NEVER_SENT = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
    ProfileNotFound,
    NoRegionError,
    ParamValidationError,
)
# Error codes with which SQS and EventBridge refuse a whole call for load, not for its content.
THROTTLING_CODES = frozenset(
    {"RequestThrottled", "ThrottlingException", "Throttling", "TooManyRequestsException"}
)


class CallFailure(Enum):
    """What a failed batch call means for its entries."""

    RETRY = "refused or never sent: nothing was taken, try again"
    FATAL = "refused for good, or never sent (permissions, credentials, no such queue): stop"
    UNKNOWN = "the answer was lost: the entries may have been taken, never resend them"


def classify(exc: Exception) -> CallFailure:
    """What `exc`, raised by a batch call, says about the entries of that call."""
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return CallFailure.RETRY
    if isinstance(exc, _NEVER_SENT):
        return CallFailure.FATAL
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in THROTTLING_CODES:
            return CallFailure.RETRY
        # A 5xx may come after the work was done; a 4xx is a refusal of the whole call.
        return CallFailure.UNKNOWN if status >= 500 else CallFailure.FATAL
    return CallFailure.UNKNOWN


def backoff_seconds(attempt: int, jitter: float | None = None) -> float:
    """Capped exponential backoff with full jitter before attempt `attempt + 1` (attempt >= 1)."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1))
    fraction = random.random() if jitter is None else jitter  # noqa: S311 (not cryptographic)
    return ceiling * fraction
