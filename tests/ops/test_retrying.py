"""Which failed batch calls may be tried again, and the backoff before each new attempt."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    TokenRetrievalError,
)

from ops.retrying import BACKOFF_MAX_SECONDS, CallFailure, backoff_seconds, classify


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "SendMessageBatch")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_client_error("RequestThrottled", 403), CallFailure.RETRY),
        (_client_error("ThrottlingException", 400), CallFailure.RETRY),
        (EndpointConnectionError(endpoint_url="https://sqs"), CallFailure.RETRY),
        (_client_error("AccessDenied", 403), CallFailure.FATAL),
        (_client_error("AWS.SimpleQueueService.NonExistentQueue", 400), CallFailure.FATAL),
        # Raised before the request leaves: nothing was taken, and trying again cannot help
        (NoCredentialsError(), CallFailure.FATAL),
        (TokenRetrievalError(provider="sso", error_msg="Token has expired"), CallFailure.FATAL),
        (_client_error("InternalError", 500), CallFailure.UNKNOWN),
        (ReadTimeoutError(endpoint_url="https://sqs"), CallFailure.UNKNOWN),
        (ConnectionClosedError(endpoint_url="https://sqs"), CallFailure.UNKNOWN),
    ],
)
def test_only_a_call_aws_never_took_is_tried_again(exc: Exception, kind: CallFailure) -> None:
    assert classify(exc) is kind


def test_backoff_doubles_up_to_its_cap_and_jitters_below_it() -> None:
    assert [backoff_seconds(attempt, jitter=1.0) for attempt in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert backoff_seconds(20, jitter=1.0) == BACKOFF_MAX_SECONDS
    assert backoff_seconds(3, jitter=0.0) == 0.0
    assert 0 <= backoff_seconds(3) <= 0.8
