"""Settings from the environment (docs/contract.md section 3)."""

import pytest

from cashout_cancel.settings import ConfigurationError, load_settings

REQUIRED = {"D24_SECRET_ID": "d24", "D24_BASE_URL": "https://api-stg.directa24.com/v3"}


def test_defaults_apply_when_only_required_variables_are_set() -> None:
    settings = load_settings(REQUIRED)
    assert settings.secret_id == "d24"
    assert settings.base_url == "https://api-stg.directa24.com/v3"
    assert settings.read_timeout == 5.0
    assert settings.max_attempts == 3
    assert settings.secret_ttl == 300.0


def test_timeout_is_read_as_float_seconds() -> None:
    assert load_settings({**REQUIRED, "D24_TIMEOUT_SECONDS": "1.25"}).read_timeout == 1.25


def test_trailing_slash_of_base_url_is_dropped() -> None:
    settings = load_settings({**REQUIRED, "D24_BASE_URL": "https://api.directa24.com/v3/"})
    assert settings.base_url == "https://api.directa24.com/v3"


@pytest.mark.parametrize("name", ["D24_SECRET_ID", "D24_BASE_URL"])
def test_missing_required_variable_is_named(name: str) -> None:
    environ = {key: value for key, value in REQUIRED.items() if key != name}
    with pytest.raises(ConfigurationError, match=name):
        load_settings(environ)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.directa24.com/v3",
        "http://10.0.0.1/v3",
        "ftp://x/v3",
        "api.directa24.com",
        "https://",
    ],
)
def test_plain_http_to_a_remote_host_and_non_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="D24_BASE_URL"):
        load_settings({**REQUIRED, "D24_BASE_URL": url})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8024/v3",
        "http://localhost:1/v3",
        "http://[::1]:9/v3",
        "http://127.9.9.9/v3",
    ],
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    assert load_settings({**REQUIRED, "D24_BASE_URL": url}).base_url == url


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("D24_TIMEOUT_SECONDS", "soon"),
        ("D24_TIMEOUT_SECONDS", "0"),
        ("D24_TIMEOUT_SECONDS", "nan"),
        ("D24_MAX_ATTEMPTS", "2.5"),
        ("D24_MAX_ATTEMPTS", "0"),
        ("SECRET_CACHE_TTL_SECONDS", "-1"),
    ],
)
def test_malformed_numbers_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        load_settings({**REQUIRED, name: value})


# Several merchant accounts (docs/contract.md sections 3 and 11)

PREFIX_ONLY = {
    "D24_MERCHANT_SECRET_PREFIX": "cashout-cancel/d24/",
    "D24_BASE_URL": "https://api-stg.directa24.com/v3",
}


def test_the_prefix_alone_is_enough_and_the_default_secret_is_then_optional() -> None:
    settings = load_settings(PREFIX_ONLY)
    assert settings.secret_id is None
    assert settings.merchant_secret_prefix == "cashout-cancel/d24/"
    assert settings.merchant_cache_size == 32


def test_without_a_prefix_no_named_account_is_served() -> None:
    assert load_settings(REQUIRED).merchant_secret_prefix is None


def test_neither_the_default_secret_nor_the_prefix_names_both() -> None:
    with pytest.raises(ConfigurationError, match=r"D24_SECRET_ID.*D24_MERCHANT_SECRET_PREFIX"):
        load_settings({"D24_BASE_URL": "https://api-stg.directa24.com/v3"})


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", "10001"])
def test_merchant_cache_size_out_of_range_is_named(value: str) -> None:
    with pytest.raises(ConfigurationError, match="MERCHANT_CACHE_SIZE"):
        load_settings({**PREFIX_ONLY, "MERCHANT_CACHE_SIZE": value})
