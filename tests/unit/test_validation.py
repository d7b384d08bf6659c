"""Validation of cashout_id and external_id (docs/contract.md section 4, "Valid input")."""

from typing import Any

import pytest

from cashout_cancel.cancel.request import (
    MAX_BODY_BYTES,
    CancelRequest,
    InvalidRequest,
    parse_cashout_id,
    parse_external_id,
    parse_json_object,
    parse_request,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (1, 1),
        ("1", 1),
        (1001, 1001),
        ("1001", 1001),
        (2**63 - 1, 2**63 - 1),
        (str(2**63 - 1), 2**63 - 1),
    ],
)
def test_valid_cashout_ids_become_integers(given: Any, expected: int) -> None:
    assert parse_cashout_id(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        0,
        -1,
        2**63,
        True,
        False,
        1.0,
        1.5,
        "0",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1\n",
        "01",
        "1e3",
        "1.0",
        "",
        "abc",
        "\u0661\u0662",  # Arabic-Indic digits
        "\uff11\uff12",  # full-width digits
        str(2**63),
        "9" * 5000,
        None,
        [],
        {},
        [1],
    ],
)
def test_invalid_cashout_ids_are_refused(given: Any) -> None:
    with pytest.raises(ValueError, match="must be"):
        parse_cashout_id(given)


@pytest.mark.parametrize("given", ["e", "ext-1001", "x" * 100, "pago ñ", " spaced "])
def test_valid_external_ids_are_kept_as_given(given: str) -> None:
    assert parse_external_id(given) == given


@pytest.mark.parametrize("given", ["", "x" * 101, 1, None, True, ["a"], {"a": 1}])
def test_invalid_external_ids_are_refused(given: Any) -> None:
    with pytest.raises(ValueError, match="must"):
        parse_external_id(given)


def test_request_with_both_fields_valid_is_accepted() -> None:
    assert parse_request({"cashout_id": "42", "external_id": "e"}) == CancelRequest(42, "e")


def test_missing_external_id_is_named_and_valid_cashout_id_is_kept() -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_request({"cashout_id": 42})
    assert "external_id is required" in raised.value.message
    assert raised.value.cashout_id == 42
    assert raised.value.external_id is None


def test_every_invalid_field_is_named() -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_request({"cashout_id": "007", "external_id": ""})
    assert "cashout_id" in raised.value.message
    assert "external_id" in raised.value.message


def test_null_fields_count_as_missing() -> None:
    with pytest.raises(InvalidRequest, match="cashout_id is required"):
        parse_request({"cashout_id": None, "external_id": "e"})


@pytest.mark.parametrize(
    "raw",
    [
        '{"external_id": "' + "x" * (MAX_BODY_BYTES - 18) + '"}',  # 8,193 characters
        '{"external_id": "' + "é" * 4100 + '"}',  # 4,119 characters, 8,219 bytes
        b" " * (MAX_BODY_BYTES + 1),
    ],
    ids=["ascii", "two-byte-characters", "bytes"],
)
def test_a_body_over_8_kib_of_utf_8_is_refused_by_name(raw: str | bytes) -> None:
    with pytest.raises(InvalidRequest, match=f"message body is larger than {MAX_BODY_BYTES} bytes"):
        parse_json_object(raw, "message body")


def test_a_body_of_exactly_8_kib_is_read() -> None:
    raw = '{"external_id": "' + "x" * (MAX_BODY_BYTES - 19) + '"}'
    assert len(raw.encode()) == MAX_BODY_BYTES
    assert parse_json_object(raw)["external_id"].startswith("x")
