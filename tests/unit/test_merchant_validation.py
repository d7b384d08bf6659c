"""The merchant field (docs/contract.md section 11): 1 to 32 characters from a-z, 0-9 and '-',
starting with a letter or digit; absent or null is the default account; the reason never repeats
it."""

from typing import Any

import pytest

from cashout_cancel.cancel.request import InvalidRequest, parse_merchant, parse_request


@pytest.mark.parametrize("value", ["a", "0", "acme-mx", "a" * 32, "9" * 32, "a-", "a--b"])
def test_account_names_are_kept_as_given(value: str) -> None:
    assert parse_merchant(value) == value
    assert parse_request({"cashout_id": 1, "external_id": "e", "merchant": value}).merchant == value


@pytest.mark.parametrize("fields", [{}, {"merchant": None}])
def test_absent_or_null_is_the_default_account(fields: dict[str, Any]) -> None:
    assert parse_request({"cashout_id": 1, "external_id": "e", **fields}).merchant is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "-a",
        "A",
        "a" * 33,
        "a_b",
        "a b",
        "a.b",
        "a/b",
        "a\n",
        "\u0430",
        "é",
        1,
        1.5,
        True,
        [],
        {},
    ],
)
def test_anything_else_is_refused_naming_merchant_without_repeating_it(value: Any) -> None:
    with pytest.raises(ValueError, match="must be") as refused:
        parse_merchant(value)
    with pytest.raises(InvalidRequest) as invalid:
        parse_request({"cashout_id": 1, "external_id": "e", "merchant": value})
    assert invalid.value.message.startswith("merchant ")
    assert (invalid.value.cashout_id, invalid.value.external_id) == (1, "e")
    assert invalid.value.merchant is None
    if isinstance(value, str) and value.strip():
        assert value not in str(refused.value)
        assert value not in invalid.value.message


def test_a_valid_merchant_is_echoed_beside_an_invalid_field() -> None:
    with pytest.raises(InvalidRequest) as invalid:
        parse_request({"cashout_id": 0, "external_id": "e", "merchant": "acme-mx"})
    assert invalid.value.merchant == "acme-mx"
    assert "cashout_id" in invalid.value.message
