"""What went wrong, in one line an operator can act on.

An operator's mistake (a wrong path, a file in another encoding, a missing login, a queue that is
not there) is never a traceback: it is raised as `OperatorError` and printed as one line on
stderr, with exit status 2. `explain` turns what boto3 raises into such a line.
"""

from __future__ import annotations

import re

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

from ops.retrying import THROTTLING_CODES

EXIT_STATUS = 2

# A queue URL that names no queue (SQS's codes in its JSON and query protocols), an unknown bus.
_NOT_FOUND = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NonExistentQueue",
        "ResourceNotFoundException",
    }
)
# Credentials AWS does not know, or no longer accepts.
_CREDENTIALS_REFUSED = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidAccessKeyId",
    }
)
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})
LOGIN_HINT = "log in as you would for the AWS CLI (aws sso login, aws configure), or give --profile"


class OperatorError(Exception):
    """A mistake or refusal the operator can act on: one line, exit status 2."""


def explain(exc: BaseException, target: str) -> str:
    """One line saying what `exc`, raised by boto3 while working on `target` ("the queue URL",
    "the event bus NAME"), means for the operator, and what to do."""
    if isinstance(exc, NoCredentialsError):
        return f"no AWS credentials found: {LOGIN_HINT}"
    if isinstance(exc, ProfileNotFound):
        profile = exc.kwargs.get("profile")
        return f"unknown AWS profile {profile!r} (aws configure list-profiles lists the known ones)"
    if isinstance(
        exc, PartialCredentialsError | CredentialRetrievalError | TokenRetrievalError | SSOError
    ):
        return f"AWS credentials could not be loaded ({one_line(str(exc))}): {LOGIN_HINT}"
    if isinstance(exc, NoRegionError):
        return "no AWS region: give --region"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        endpoint = exc.kwargs.get("endpoint_url")
        return f"could not connect to {endpoint}: check the network and the region"
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        endpoint = exc.kwargs.get("endpoint_url")
        return (
            f"the answer from {endpoint} was lost ({type(exc).__name__}): what was in flight"
            " may have been taken"
        )
    if isinstance(exc, ClientError):
        return _client_error(exc, target)
    return f"{type(exc).__name__}: {one_line(str(exc))} (working on {target})"


def _client_error(exc: ClientError, target: str) -> str:
    code, message = code_and_message(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _NOT_FOUND:
        return f"{target} does not exist (check it, and the region, against the stack's outputs)"
    if code in THROTTLING_CODES:
        return f"AWS throttled the calls on {target} ({code}) until the tool gave up"
    if code in _CREDENTIALS_REFUSED:
        return f"AWS refused the credentials ({code}: {message}): {LOGIN_HINT}"
    if code in _ACCESS_DENIED or status == 403:
        return f"access denied on {target}: {message}"
    return f"AWS refused the call on {target} ({code}: {message})"


def code_and_message(exc: ClientError) -> tuple[str, str]:
    """The error code and message AWS gave, each on one line.

    An XML error body where JSON was expected (moto's IAM check answers so, and a proxy in
    front of AWS may) reaches botocore as the HTTP status for a code and the whole body for a
    message: the code and message are read back out of it.
    """
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if message.lstrip().startswith("<"):
        found_code = re.search(r"<Code>(.*?)</Code>", message, re.DOTALL)
        found_message = re.search(r"<Message>(.*?)</Message>", message, re.DOTALL)
        code = found_code.group(1) if found_code else code
        message = found_message.group(1) if found_message else ""
    return one_line(code), one_line(message)


def one_line(text: str, limit: int = 300) -> str:
    """`text` with its whitespace runs made single spaces, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
