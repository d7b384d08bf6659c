"""Exceptions that cross layers. They carry facts (what failed, D24's status and code), never a
request body, credentials or a signature."""

from __future__ import annotations


class ConfigurationError(Exception):
    """The function's settings or its D24 secret are missing, unreadable or malformed."""


class RetryableFailure(Exception):
    """Raised to EventBridge for a result >= 500, or a result that could not be published, so
    that Lambda retries the event and, in the end, sends it to the on-failure destination."""

    def __init__(
        self, status_code: int, outcome: str, correlation_id: str | None, published: bool = True
    ):
        what = f"cancel failed with {status_code} {outcome}"
        if not published:
            what = f"the result ({status_code} {outcome}) could not be published"
        super().__init__(
            f"{what} (correlation id {correlation_id}); raised so that the event is retried"
        )
        self.status_code = status_code
        self.outcome = outcome
        self.published = published
