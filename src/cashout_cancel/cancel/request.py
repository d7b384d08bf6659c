"""Validation of untrusted input into one domain request (docs/contract.md section 4, "Valid
input")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

MAX_CASHOUT_ID = 2**63 - 1
MAX_EXTERNAL_ID_LENGTH = 100
# A merchant account's name (docs/contract.md section 11): it becomes part of a secret's name, so
# only lowercase letters, digits and '-', starting with a letter or digit, at most 32 characters.
MERCHANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MERCHANT_RULE = "must be 1 to 32 characters from a-z, 0-9 and '-', starting with a letter or digit"
# Every caller's body (an HTTP body after base64 decoding, an SQS message body), in UTF-8 bytes.
MAX_BODY_BYTES = 8192
# Plain ASCII decimal digits, no sign, no leading zero; `str.isdigit` would admit other scripts.
_DECIMAL = re.compile(r"[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class CancelRequest:
    """A validated request to cancel one cashout."""

    cashout_id: int
    external_id: str
    merchant: str | None = None  # the merchant account; None: the default one (section 11)


class InvalidRequest(Exception):
    """The request is invalid; `message` names every offending field."""

    def __init__(
        self,
        message: str,
        cashout_id: int | None = None,
        external_id: str | None = None,
        merchant: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        # The fields that were valid, so the answer can echo them (docs/contract.md section 4).
        self.cashout_id = cashout_id
        self.external_id = external_id
        self.merchant = merchant


class _OutOfRange:
    """A JSON integer too long to be any valid id, kept unparsed (see `parse_json_object`)."""

    def __repr__(self) -> str:
        return "an integer too large"


_TOO_LONG = _OutOfRange()
# Digits (and a sign) of the longest JSON integer worth parsing: 2^63 - 1 has 19 digits.
_MAX_INTEGER_TEXT = 20


def _bounded_int(text: str) -> int | _OutOfRange:
    # Python refuses to parse integers of over 4,300 digits (a guard against slow parsing),
    # which would make a huge cashout_id look like a body that is not JSON at all. No valid
    # field is that long: such a number is kept as a marker that validation refuses by name.
    return int(text) if len(text) <= _MAX_INTEGER_TEXT else _TOO_LONG


def parse_json_object(raw: str | bytes, what: str = "body") -> dict[str, Any]:
    """A request body decoded as a JSON object, or InvalidRequest naming what is wrong (over
    MAX_BODY_BYTES, not JSON, not an object)."""
    # Every character is at least one byte: a long text is refused before it is encoded.
    too_long = len(raw) > MAX_BODY_BYTES or (
        isinstance(raw, str) and len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES
    )
    if too_long:
        raise InvalidRequest(f"{what} is larger than {MAX_BODY_BYTES} bytes")
    try:
        fields = json.loads(raw, parse_int=_bounded_int)
    except (ValueError, RecursionError):
        raise InvalidRequest(f"{what} is not valid JSON") from None
    if not isinstance(fields, dict):
        raise InvalidRequest(f"{what} must be a JSON object")
    return fields


def parse_cashout_id(value: Any) -> int:
    """Return the cashout id as an int, or raise ValueError saying what a valid one is."""
    if isinstance(value, bool):
        raise ValueError("must be a positive integer, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    else:
        raise ValueError(
            "must be a positive integer below 2^63, as a JSON integer or a string of decimal digits"
        )
    if not 1 <= number <= MAX_CASHOUT_ID:
        raise ValueError("must be a positive integer below 2^63")
    return number


def parse_external_id(value: Any) -> str:
    """Return the external id, or raise ValueError saying what a valid one is."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_EXTERNAL_ID_LENGTH:
        raise ValueError(f"must be at most {MAX_EXTERNAL_ID_LENGTH} characters")
    return value


def parse_merchant(value: Any) -> str | None:
    """The merchant account named, None for the default one (absent or null), or ValueError
    saying what a valid name is; the message never repeats the value (docs/contract.md section
    11)."""
    if value is None:
        return None
    if not isinstance(value, str) or not MERCHANT_PATTERN.fullmatch(value):
        raise ValueError(MERCHANT_RULE)
    return value


def parse_request(fields: Mapping[str, Any]) -> CancelRequest:
    """Validate `cashout_id`, `external_id` and the optional `merchant` from a caller's payload,
    or raise InvalidRequest."""
    problems: list[str] = []
    cashout_id = _field(fields, "cashout_id", parse_cashout_id, problems)
    external_id = _field(fields, "external_id", parse_external_id, problems)
    merchant = None
    try:
        merchant = parse_merchant(fields.get("merchant"))
    except ValueError as exc:
        problems.append(f"merchant {exc}")
    if problems or cashout_id is None or external_id is None:
        raise InvalidRequest("; ".join(problems) + ".", cashout_id, external_id, merchant)
    return CancelRequest(cashout_id=cashout_id, external_id=external_id, merchant=merchant)


def _field(
    fields: Mapping[str, Any], name: str, parse: Callable[[Any], T], problems: list[str]
) -> T | None:
    """The parsed field, or None with the reason appended to `problems`."""
    if fields.get(name) is None:
        problems.append(f"{name} is required")
        return None
    try:
        return parse(fields[name])
    except ValueError as exc:
        problems.append(f"{name} {exc}")
        return None
