"""Each shape a failure queue holds reads back into the cancel request it carried."""

from __future__ import annotations

import json

import pytest

from ops.failures import Replayable, Unreadable, read_message
from ops.function import CancelRequest
from tests.ops.conftest import failure_message


@pytest.mark.parametrize(
    ("sample", "request_", "origin"),
    [
        (
            "lambda-destination-retries-exhausted",
            CancelRequest(1001, "ext-1001"),
            "Lambda on-failure record (RetriesExhausted)",
        ),
        (
            "lambda-destination-event-age-exceeded",
            CancelRequest(1002, "ext-1002"),
            "Lambda on-failure record (EventAgeExceeded)",
        ),
        (
            "eventbridge-dead-letter",
            CancelRequest(1003, "ext-1003"),
            "EventBridge dead letter (NO_PERMISSIONS)",
        ),
        ("cancel-dead-letter", CancelRequest(1004, "ext-1004"), "cancel message"),
    ],
)
def test_every_failure_shape_yields_its_cancel_request(
    sample: str, request_: CancelRequest, origin: str
) -> None:
    # Given a message as the failure queue holds it
    body, attributes = failure_message(sample)

    # When it is read
    found = read_message(body, attributes)

    # Then it is the original request, and says where it came from
    assert found == Replayable(request_, origin)


def test_an_invalid_cancel_message_is_unreadable_with_the_functions_reason() -> None:
    body, attributes = failure_message("cancel-dead-letter-invalid")

    found = read_message(body, attributes)

    assert isinstance(found, Unreadable)
    assert "cancel message: invalid request: cashout_id" in found.reason
    assert "external_id must not be empty" in found.reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "the body is not JSON"),
        ("[1, 2]", "the body is not a JSON object"),
        (
            json.dumps({"detail-type": "Cashout Cancel Completed", "detail": {}}),
            "detail-type 'Cashout Cancel Completed' is not a cancel",
        ),
        (
            json.dumps({"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": 7}),
            "the request payload is not a JSON object",
        ),
        (
            json.dumps({"detail-type": "Cashout Cancel Requested", "detail": "1001"}),
            "the detail is not a JSON object",
        ),
    ],
)
def test_what_is_not_a_cancel_request_is_unreadable_and_says_why(body: str, reason: str) -> None:
    found = read_message(body, {})

    assert isinstance(found, Unreadable)
    assert reason in found.reason
