"""Signing: HMAC-SHA256 over the exact bytes sent, lowercase hex (vectors from openssl)."""

from cashout_cancel.credentials.secret import Credentials
from cashout_cancel.d24.client import encode_body
from cashout_cancel.d24.signing import sign

# printf '%s' '<body>' | openssl dgst -sha256 -hmac '<key>'
BODY = (
    b'{"login":"merchant-login","pass":"merchant-pass","cashout_id":1001,"external_id":"ext-1001"}'
)
BODY_SIGNATURE = "4c1198feb028593c4776d92cf3fbfde8cda87c4ce6e803691e00e43887ff4374"
UTF8_BODY = '{"login":"l","pass":"p","cashout_id":9223372036854775807,"external_id":"pago-ñ"}'
UTF8_SIGNATURE = "9ff48cba45f3c6ddc972b690042a513e7c38a49f32ca253378303313f7fc1f5a"


def test_signature_matches_openssl_vector() -> None:
    assert sign("merchant-signing-key", BODY) == BODY_SIGNATURE


def test_signature_covers_utf8_bytes_and_utf8_key() -> None:
    assert sign("clé", UTF8_BODY.encode("utf-8")) == UTF8_SIGNATURE


def test_signature_is_lowercase_hex_of_64_characters() -> None:
    signature = sign("k", b"{}")
    assert len(signature) == 64
    assert signature == signature.lower()
    int(signature, 16)


def test_signature_changes_with_one_byte_of_the_body() -> None:
    assert sign("k", b'{"cashout_id":1}') != sign("k", b'{"cashout_id":2}')


def test_encoded_body_is_compact_json_with_integer_cashout_id() -> None:
    credentials = Credentials("merchant-login", "merchant-pass", "merchant-signing-key")
    body = encode_body(credentials, 1001, "ext-1001")
    assert body == BODY
    assert sign(credentials.secret_key, body) == BODY_SIGNATURE


def test_credentials_repr_shows_no_value() -> None:
    credentials = Credentials("the-login", "the-pass", "the-key")
    text = repr(credentials) + str(credentials)
    for value in ("the-login", "the-pass", "the-key"):
        assert value not in text
