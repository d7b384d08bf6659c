"""The D24 sandbox holds several merchant accounts (docs/contract.md section 11), over real sockets:
each with its own credentials and its own cashouts; a request is its signer's, and sees only that
account's cashouts. The one-account constructor is unchanged (tests.local.test_d24_sandbox.py)."""

from __future__ import annotations

import json

import pytest
import requests

from local.d24_sandbox import CANCELLED, PENDING, D24Sandbox
from tests.local.test_d24_sandbox import body_of, cancel, d24, send, session

__all__ = ["d24", "session"]  # the fixtures, shared with the one-account tests

ACME = {"login": "acme-login", "pass": "acme-pass", "secret_key": "acme-key"}


def acme_body(cashout_id: int, external_id: str, **overrides: str) -> bytes:
    payload = {"login": ACME["login"], "pass": ACME["pass"], "cashout_id": cashout_id}
    return json.dumps({**payload, "external_id": external_id, **overrides}).encode()


@pytest.fixture
def acme(d24: D24Sandbox) -> D24Sandbox:
    """The sandbox with a second account, acme-mx, holding cashout 3001."""
    d24.add_account(
        "acme-mx", login=ACME["login"], password=ACME["pass"], secret_key=ACME["secret_key"]
    )
    d24.add_cashout(3001, "ext-3001", account="acme-mx")
    return d24


def test_an_added_account_cancels_its_own_cashout_with_its_own_credentials(
    acme: D24Sandbox, session: requests.Session
) -> None:
    answer = send(session, acme, "cancel", acme_body(3001, "ext-3001"), secret_key="acme-key")

    assert answer.status_code == 200
    assert acme.status_of(3001, account="acme-mx") == CANCELLED
    assert acme.status_of(3001) is None  # the first account has no such cashout
    (received,) = acme.received()
    assert (received.signature_valid, received.account) == (True, "acme-mx")


def test_an_account_asking_about_another_accounts_cashout_gets_509(
    acme: D24Sandbox, session: requests.Session
) -> None:
    # The first account asks about acme's cashout, and acme about the first account's
    first_asks = send(session, acme, "cancel", body_of(3001, "ext-3001"))
    acme_asks = send(session, acme, "status", acme_body(1001, "ext-1001"), secret_key="acme-key")

    assert (first_asks.status_code, first_asks.json()["code"]) == (412, 509)
    assert (acme_asks.status_code, acme_asks.json()["code"]) == (412, 509)
    assert acme.status_of(3001, account="acme-mx") == PENDING
    assert acme.status_of(1001) == PENDING


def test_another_accounts_login_signed_with_this_accounts_key_is_refused_401(
    acme: D24Sandbox, session: requests.Session
) -> None:
    answer = send(session, acme, "cancel", body_of(3001, "ext-3001"), secret_key="acme-key")

    assert answer.status_code == 401
    assert acme.status_of(3001, account="acme-mx") == PENDING


def test_rotating_one_account_leaves_the_others_credentials_alone(
    acme: D24Sandbox, session: requests.Session
) -> None:
    acme.set_credentials(password="acme-rotated", account="acme-mx")

    old = send(session, acme, "cancel", acme_body(3001, "ext-3001"), secret_key="acme-key")
    first_account = cancel(session, acme, 1001)
    new_body = acme_body(3001, "ext-3001", **{"pass": "acme-rotated"})
    new = send(session, acme, "cancel", new_body, secret_key="acme-key")

    assert (old.status_code, first_account.status_code, new.status_code) == (401, 200, 200)
    assert acme.credentials_of("acme-mx")["pass"] == "acme-rotated"
    assert acme.credentials["pass"] == "sandbox-pass"


def test_an_account_name_or_secret_key_is_taken_once(acme: D24Sandbox) -> None:
    with pytest.raises(ValueError, match="taken"):
        acme.add_account("acme-mx", login="x", password="y", secret_key="other")
    with pytest.raises(ValueError, match="taken"):
        acme.add_account("acme-co", login="x", password="y", secret_key="acme-key")


def test_reset_drops_the_added_accounts(acme: D24Sandbox, session: requests.Session) -> None:
    acme.reset()

    answer = send(session, acme, "cancel", acme_body(3001, "ext-3001"), secret_key="acme-key")

    assert answer.status_code == 403  # no account signs with acme's key any more
    with pytest.raises(KeyError):
        acme.status_of(3001, account="acme-mx")
