"""What goes over the wire to D24: method, path, headers, signature over the exact bytes."""

from __future__ import annotations

import hashlib
import hmac

from cashout_cancel import __version__
from local.d24_sandbox import CANCELLED, D24Sandbox
from tests.conftest import LOGIN, PASSWORD, SECRET_KEY, Invoke


def test_cancel_is_a_signed_delete_with_json_body_and_our_user_agent(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    invoke({"cashout_id": "1001", "external_id": "ext-1001"})
    [sent] = d24.received()
    assert (sent.method, sent.path) == ("DELETE", "/v3/cashout/cancel")
    assert sent.header("Content-Type") == "application/json"
    assert sent.header("User-Agent") == f"cashout-cancel/{__version__}"
    expected = hmac.new(SECRET_KEY.encode(), sent.body, hashlib.sha256).hexdigest()
    assert sent.header("Payload-Signature") == expected
    assert sent.signature_valid
    assert sent.json() == {
        "login": LOGIN,
        "pass": PASSWORD,
        "cashout_id": 1001,
        "external_id": "ext-1001",
    }


def test_status_look_up_is_a_signed_post_for_the_same_cashout(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    invoke({"cashout_id": 2001, "external_id": "ext-2001"})
    cancel, status = d24.received()
    assert (status.method, status.path) == ("POST", "/v3/cashout/status")
    assert status.signature_valid
    assert status.json() == cancel.json()
    assert status.header("User-Agent") == f"cashout-cancel/{__version__}"


def test_warm_invocations_reuse_the_secret_and_the_connection(
    invoke: Invoke, d24: D24Sandbox
) -> None:
    from cashout_cancel import container

    invoke({"cashout_id": 1001, "external_id": "ext-1001"})
    exchange = container.http_exchange()
    invoke({"cashout_id": 1002, "external_id": "ext-1002"})
    assert container.http_exchange() is exchange
    assert d24.status_of(1002) == CANCELLED
    # Both cancels came over one kept-alive connection
    ports = {request.client_port for request in d24.received("cancel")}
    assert len(ports) == 1
