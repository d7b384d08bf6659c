"""The local D24 sandbox behaves like D24 and plays its faults, over real sockets."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from local.d24_sandbox import (
    CANCELLED,
    ON_HOLD,
    PENDING,
    SEED_CASHOUTS,
    D24Sandbox,
    Fault,
)

# Spelled out rather than imported, so that a change to the sandbox's defaults shows here.
LOGIN, PASSWORD, SECRET_KEY = "sandbox-login", "sandbox-pass", "sandbox-secret-key"
USER_AGENT = "sandbox-tests/1.0"


def signature(body: bytes, secret_key: str = SECRET_KEY) -> str:
    return hmac.new(secret_key.encode(), body, hashlib.sha256).hexdigest()


def body_of(cashout_id: object, external_id: object, **overrides: object) -> bytes:
    payload = {"login": LOGIN, "pass": PASSWORD, "cashout_id": cashout_id}
    payload["external_id"] = external_id
    payload.update(overrides)
    return json.dumps(payload).encode()


def send(
    session: requests.Session,
    d24: D24Sandbox,
    endpoint: str,
    body: bytes,
    *,
    secret_key: str = SECRET_KEY,
    headers: dict[str, str] | None = None,
    timeout: float = 2.0,
) -> requests.Response:
    method = "DELETE" if endpoint == "cancel" else "POST"
    sent_headers = {
        "Content-Type": "application/json",
        "Payload-Signature": signature(body, secret_key),
        "User-Agent": USER_AGENT,
        **(headers or {}),
    }
    url = f"{d24.base_url}/cashout/{endpoint}"
    return session.request(method, url, data=body, headers=sent_headers, timeout=timeout)


def cancel(
    session: requests.Session, d24: D24Sandbox, cashout_id: int, timeout: float = 2.0
) -> requests.Response:
    return send(session, d24, "cancel", body_of(cashout_id, f"ext-{cashout_id}"), timeout=timeout)


def status(session: requests.Session, d24: D24Sandbox, cashout_id: int) -> requests.Response:
    return send(session, d24, "status", body_of(cashout_id, f"ext-{cashout_id}"))


def raw_request(d24: D24Sandbox, body: bytes) -> socket.socket:
    """Send a signed cancel on a plain socket and leave the connection open."""
    connection = socket.create_connection(("127.0.0.1", d24.port), timeout=2.0)
    head = (
        f"DELETE /v3/cashout/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nPayload-Signature: {signature(body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    connection.sendall(head.encode() + body)
    return connection


@pytest.fixture
def d24() -> Iterator[D24Sandbox]:
    with D24Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as client:
        yield client


# Lifecycle


def test_base_url_names_loopback_the_bound_port_and_v3(d24: D24Sandbox) -> None:
    assert d24.port > 0
    assert d24.base_url == f"http://127.0.0.1:{d24.port}/v3"


def test_port_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        _ = D24Sandbox().port


# Cancel


def test_cancel_of_pending_cashout_answers_200_and_becomes_cancelled(
    d24: D24Sandbox, session: requests.Session
) -> None:
    response = cancel(session, d24, 1001)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"cashout_status": 2, "cashout_status_description": "Canceled"}
    assert d24.status_of(1001) == CANCELLED


def test_cancel_of_on_hold_cashout_is_allowed(d24: D24Sandbox, session: requests.Session) -> None:
    assert d24.status_of(2005) == ON_HOLD

    response = cancel(session, d24, 2005)

    assert response.status_code == 200
    assert d24.status_of(2005) == CANCELLED


def test_cancel_of_unknown_cashout_answers_412_code_509(
    d24: D24Sandbox, session: requests.Session
) -> None:
    response = cancel(session, d24, 999_999)

    assert response.status_code == 412
    assert response.json() == {"code": 509, "message": "Cashout not found with this ID"}


def test_cancel_with_mismatched_external_id_answers_509_and_changes_nothing(
    d24: D24Sandbox, session: requests.Session
) -> None:
    response = send(session, d24, "cancel", body_of(1001, "ext-1002"))

    assert response.status_code == 412
    assert response.json()["code"] == 509
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("cashout_id", [2001, 2002, 2003, 2004], ids=lambda i: f"seed-{i}")
def test_cancel_of_not_pending_cashout_answers_412_code_510(
    d24: D24Sandbox, session: requests.Session, cashout_id: int
) -> None:
    before = d24.status_of(cashout_id)

    response = cancel(session, d24, cashout_id)

    assert response.status_code == 412
    assert response.json() == {"code": 510, "message": "Invalid status transition"}
    assert d24.status_of(cashout_id) == before


def test_second_cancel_of_same_cashout_answers_510(
    d24: D24Sandbox, session: requests.Session
) -> None:
    cancel(session, d24, 1002)

    response = cancel(session, d24, 1002)

    assert response.status_code == 412
    assert response.json()["code"] == 510


def test_concurrent_cancels_of_one_cashout_succeed_exactly_once(d24: D24Sandbox) -> None:
    statuses: list[int] = []

    def cancel_once() -> None:
        with requests.Session() as own_session:
            statuses.append(cancel(own_session, d24, 1003).status_code)

    threads = [threading.Thread(target=cancel_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] + [412] * 7


def test_added_cashout_can_be_cancelled(d24: D24Sandbox, session: requests.Session) -> None:
    d24.add_cashout(7_000_000_000_001, "ext-7000000000001")

    response = cancel(session, d24, 7_000_000_000_001)

    assert response.status_code == 200
    assert d24.status_of(7_000_000_000_001) == CANCELLED


# Status


@pytest.mark.parametrize(
    ("cashout_id", "expected_status", "description"),
    [(1001, 0, "Pending"), (2001, 1, "Completed"), (2002, 2, "Canceled"), (2005, 5, "On hold")],
)
def test_status_answers_current_status_and_description(
    d24: D24Sandbox,
    session: requests.Session,
    cashout_id: int,
    expected_status: int,
    description: str,
) -> None:
    response = status(session, d24, cashout_id)

    assert response.status_code == 200
    assert response.json() == {
        "cashout_status": expected_status,
        "cashout_status_description": description,
    }


def test_status_of_rejected_cashout_carries_rejection_code_and_reason(
    d24: D24Sandbox, session: requests.Session
) -> None:
    response = status(session, d24, 2003)

    assert response.json() == {
        "cashout_status": 3,
        "cashout_status_description": "Rejected",
        "rejection_code": "R01",
        "rejection_reason": "Invalid account",
    }


def test_status_of_unknown_cashout_answers_412_code_509(
    d24: D24Sandbox, session: requests.Session
) -> None:
    response = status(session, d24, 424_242)

    assert response.status_code == 412
    assert response.json()["code"] == 509


def test_seeded_cashouts_cover_every_status(d24: D24Sandbox) -> None:
    statuses = {cashout.status for cashout in SEED_CASHOUTS.values()}

    assert statuses == {0, 1, 2, 3, 4, 5}
    assert all(d24.status_of(i) == c.status for i, c in SEED_CASHOUTS.items())
    assert all(c.external_id == f"ext-{i}" for i, c in SEED_CASHOUTS.items())


# Request checks


def test_signature_over_other_bytes_answers_403_code_302_and_changes_nothing(
    d24: D24Sandbox, session: requests.Session
) -> None:
    body = body_of(1001, "ext-1001")
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()

    response = send(
        session, d24, "cancel", body, headers={"Payload-Signature": signature(reserialised)}
    )

    assert response.status_code == 403
    assert response.json() == {"code": 302, "message": "Invalid signature"}
    assert d24.status_of(1001) == PENDING


PENDING_1001 = body_of(1001, "ext-1001")


@pytest.mark.parametrize(
    "signature_header",
    [
        {},
        {"Payload-Signature": ""},
        {"Payload-Signature": signature(PENDING_1001).upper()},
        {"Payload-Signature": signature(PENDING_1001, "another-key")},
        {"Payload-Signature": "caf\u00e9"},
    ],
    ids=["missing", "empty", "uppercase-hex", "other-key", "non-ascii"],
)
def test_bad_signature_answers_403_code_302(
    d24: D24Sandbox, session: requests.Session, signature_header: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/json", **signature_header}

    response = session.delete(
        f"{d24.base_url}/cashout/cancel", data=PENDING_1001, headers=headers, timeout=2.0
    )

    assert response.status_code == 403
    assert response.json()["code"] == 302
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize(
    "overrides", [{"login": "someone-else"}, {"pass": "wrong-pass"}], ids=["login", "pass"]
)
def test_wrong_credentials_answer_401(
    d24: D24Sandbox, session: requests.Session, overrides: dict[str, str]
) -> None:
    response = send(session, d24, "cancel", body_of(1001, "ext-1001", **overrides))

    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Invalid credentials"}
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("body", [b"not json", b'{"cashout_st', b"[]", b"", b"\xff\xfe"], ids=repr)
def test_body_that_is_not_a_json_object_answers_400_code_502(
    d24: D24Sandbox, session: requests.Session, body: bytes
) -> None:
    response = send(session, d24, "cancel", body)

    assert response.status_code == 400
    assert response.json() == {"code": 502, "message": "Invalid request body"}


@pytest.mark.parametrize(
    ("cashout_id", "external_id"),
    [("1001", "ext-1001"), (True, "ext-1001"), (1001.0, "ext-1001"), (2**63, "x"), (1001, 1001)],
    ids=["id-string", "id-bool", "id-float", "id-over-int64", "external-id-int"],
)
def test_invalid_params_answer_400_code_300(
    d24: D24Sandbox, session: requests.Session, cashout_id: object, external_id: object
) -> None:
    response = send(session, d24, "cancel", body_of(cashout_id, external_id))

    assert response.status_code == 400
    assert response.json() == {"code": 300, "message": "Invalid params"}


def test_missing_cashout_id_answers_400_code_300(
    d24: D24Sandbox, session: requests.Session
) -> None:
    body = json.dumps({"login": LOGIN, "pass": PASSWORD, "external_id": "ext-1001"}).encode()

    response = send(session, d24, "status", body)

    assert response.status_code == 400
    assert response.json()["code"] == 300


def test_non_json_content_type_answers_400_code_300(
    d24: D24Sandbox, session: requests.Session
) -> None:
    body = body_of(1001, "ext-1001")

    response = send(session, d24, "cancel", body, headers={"Content-Type": "text/plain"})

    assert response.status_code == 400
    assert response.json()["code"] == 300
    assert d24.status_of(1001) == PENDING


def test_json_content_type_with_charset_is_accepted(
    d24: D24Sandbox, session: requests.Session
) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}

    response = send(session, d24, "status", body_of(1001, "ext-1001"), headers=headers)

    assert response.status_code == 200


def test_unknown_path_answers_404_and_wrong_method_answers_405(
    d24: D24Sandbox, session: requests.Session
) -> None:
    unknown = session.post(f"{d24.base_url}/cashout/create", data=b"{}", timeout=2.0)
    wrong_method = session.post(f"{d24.base_url}/cashout/cancel", data=b"{}", timeout=2.0)

    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"] == "application/json"
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "DELETE"
    assert [r.endpoint for r in d24.received()] == ["other", "other"]


# Request log


def test_every_request_is_recorded_with_exact_bytes_signature_validity_and_user_agent(
    d24: D24Sandbox, session: requests.Session
) -> None:
    body = body_of(1001, "ext-1001")

    send(session, d24, "cancel", body)
    send(session, d24, "status", body, secret_key="not-the-key")

    first, second = d24.received()
    assert (first.method, first.path, first.endpoint) == ("DELETE", "/v3/cashout/cancel", "cancel")
    assert first.body == body
    assert first.signature_valid is True
    assert first.header("payload-signature") == signature(body)
    assert first.header("User-Agent") == USER_AGENT
    assert type(first.json()["cashout_id"]) is int
    assert (second.endpoint, second.signature_valid) == ("status", False)
    assert d24.received("status") == [second]
    assert d24.received() == [first, second]


def test_nothing_is_recorded_when_nothing_is_sent(d24: D24Sandbox) -> None:
    assert d24.received() == []


def test_keep_alive_connection_serves_several_requests(d24: D24Sandbox) -> None:
    body = body_of(1001, "ext-1001")
    headers = {"Content-Type": "application/json", "Payload-Signature": signature(body)}
    connection = http.client.HTTPConnection("127.0.0.1", d24.port, timeout=2.0)
    try:
        connection.request("POST", "/v3/cashout/status", body=body, headers=headers)
        first = connection.getresponse()
        first.read()
        first_socket = connection.sock

        connection.request("DELETE", "/v3/cashout/cancel", body=body, headers=headers)
        second = connection.getresponse()
        second.read()

        assert (first.status, second.status) == (200, 200)
        assert first.getheader("Content-Length") is not None
        assert connection.sock is first_socket is not None
    finally:
        connection.close()


# Credentials


def test_rotated_credentials_refuse_the_old_ones_and_accept_the_new(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.set_credentials(login="new-login", password="new-pass", secret_key="new-secret")
    old_body = body_of(1001, "ext-1001")
    new_body = body_of(1001, "ext-1001", login="new-login", **{"pass": "new-pass"})

    old_key = send(session, d24, "cancel", old_body)
    new_key_old_login = send(session, d24, "cancel", old_body, secret_key="new-secret")
    rotated = send(session, d24, "cancel", new_body, secret_key="new-secret")

    assert old_key.status_code == 403
    assert new_key_old_login.status_code == 401
    assert rotated.status_code == 200
    assert d24.credentials == {"login": "new-login", "pass": "new-pass", "secret_key": "new-secret"}


def test_reset_restores_seed_credentials_and_clears_faults_and_log(
    d24: D24Sandbox, session: requests.Session
) -> None:
    cancel(session, d24, 1001)
    d24.add_cashout(5, "ext-5")
    d24.set_credentials(secret_key="rotated")
    d24.inject(Fault.status(500), times=3)

    d24.reset()

    assert d24.status_of(1001) == PENDING
    assert d24.status_of(5) is None
    assert d24.credentials["secret_key"] == SECRET_KEY
    assert d24.received() == []
    assert cancel(session, d24, 1001).status_code == 200


# Faults that answer instead of D24


@pytest.mark.parametrize(
    ("http_status", "code"),
    [(500, 500), (502, 502), (503, 503), (504, 504), (401, 401), (400, 300)],
)
def test_status_fault_answers_that_status_without_applying(
    d24: D24Sandbox, session: requests.Session, http_status: int, code: int
) -> None:
    d24.inject(Fault.status(http_status))

    response = cancel(session, d24, 1001)

    assert response.status_code == http_status
    assert response.json()["code"] == code
    assert d24.status_of(1001) == PENDING
    assert cancel(session, d24, 1001).status_code == 200


def test_429_fault_carries_retry_after_and_the_given_body(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.status(429, body={"message": "slow down"}, headers={"Retry-After": "2"}))

    response = cancel(session, d24, 1001)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {"message": "slow down"}


def test_html_fault_answers_an_html_page(d24: D24Sandbox, session: requests.Session) -> None:
    d24.inject(Fault.html())

    response = cancel(session, d24, 1001)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("raw", [b"", b'{"cashout_st', b'{"foo": 1}', b"[]"], ids=repr)
def test_raw_fault_answers_exactly_those_bytes(
    d24: D24Sandbox, session: requests.Session, raw: bytes
) -> None:
    d24.inject(Fault.raw(200, raw))

    response = cancel(session, d24, 1001)

    assert response.status_code == 200
    assert response.content == raw
    assert d24.status_of(1001) == PENDING


@pytest.mark.parametrize("interim", [102, 103])
def test_interim_fault_sends_a_1xx_then_applies_and_answers_after_the_delay(
    d24: D24Sandbox, interim: int
) -> None:
    # Read on a plain socket: an HTTP client would hide the interim answer
    d24.inject(Fault.interim(interim, seconds=0.2))
    started = time.monotonic()
    connection = raw_request(d24, body_of(1001, "ext-1001"))
    try:
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(4096)
        interim_at = time.monotonic() - started
        while b"Canceled" not in received:
            received += connection.recv(4096)
        final_at = time.monotonic() - started
    finally:
        connection.close()

    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {interim} ".encode())
    assert (b"Link: " in head) == (interim == 103)
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    assert interim_at < 0.15
    assert final_at >= 0.2
    assert d24.status_of(1001) == CANCELLED


def test_interim_fault_must_be_1xx() -> None:
    with pytest.raises(ValueError, match="1xx"):
        Fault.interim(200)


def test_long_description_fault_pads_the_true_status_description(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.long_description(50_000), endpoint="any", times=3)

    cancelled = cancel(session, d24, 1001).json()
    looked_up = status(session, d24, 2001).json()
    refused = cancel(session, d24, 2001)

    assert cancelled["cashout_status"] == CANCELLED
    assert cancelled["cashout_status_description"].startswith("Canceled ")
    assert len(cancelled["cashout_status_description"]) == 50_000
    assert (looked_up["cashout_status"], len(looked_up["cashout_status_description"])) == (
        1,
        50_000,
    )
    assert refused.status_code == 412  # an answer without a description is unchanged
    assert refused.json() == {"code": 510, "message": "Invalid status transition"}


# Faults of time and connection


def test_delay_fault_answers_normally_after_the_delay(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.delay(0.2))
    started = time.monotonic()

    response = cancel(session, d24, 1001)

    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200


def test_hang_fault_times_the_client_out_and_stop_returns_promptly(
    session: requests.Session,
) -> None:
    d24 = D24Sandbox().start()
    d24.inject(Fault.hang())
    try:
        with pytest.raises(requests.exceptions.Timeout):
            cancel(session, d24, 1001, timeout=0.3)
        assert d24.status_of(1001) == PENDING
    finally:
        started = time.monotonic()
        d24.stop()
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("fault", [Fault.hang(), Fault.delay(30), Fault.apply_then_delay(30)])
def test_stop_ends_a_hanging_or_sleeping_request_at_once(fault: Fault) -> None:
    d24 = D24Sandbox().start()
    d24.inject(fault)
    client = raw_request(d24, body_of(1001, "ext-1001"))
    try:
        time.sleep(0.1)  # let the handler reach the fault
        started = time.monotonic()

        d24.stop()

        assert time.monotonic() - started < 1.0
        client.settimeout(1.0)
        with contextlib.suppress(ConnectionResetError):  # a reset or an orderly close
            assert client.recv(1024) == b""
    finally:
        client.close()


def test_reset_fault_raises_connection_error_and_leaves_cashout_pending(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.reset())

    with pytest.raises(requests.exceptions.ConnectionError):
        cancel(session, d24, 1001)

    assert d24.status_of(1001) == PENDING
    assert cancel(session, d24, 1001).status_code == 200  # the session recovers


def test_apply_then_drop_raises_connection_error_and_the_cashout_is_cancelled(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.apply_then_drop())

    with pytest.raises(requests.exceptions.ConnectionError):
        cancel(session, d24, 1001)

    assert d24.status_of(1001) == CANCELLED


def test_apply_then_delay_times_the_client_out_and_the_cashout_is_cancelled(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.apply_then_delay(1.0))

    with pytest.raises(requests.exceptions.Timeout):
        cancel(session, d24, 1001, timeout=0.3)

    assert d24.status_of(1001) == CANCELLED


def test_apply_then_delay_answers_the_result_after_the_delay(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.apply_then_delay(0.1))

    response = cancel(session, d24, 1001)

    assert response.json()["cashout_status"] == CANCELLED


def test_apply_then_status_answers_500_and_the_cashout_is_cancelled(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.apply_then_status(500))

    response = cancel(session, d24, 1001)

    assert response.status_code == 500
    assert d24.status_of(1001) == CANCELLED


# Fault queue


def test_faults_fire_once_per_matching_request_in_order(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.status(503), times=2)
    d24.inject(Fault.status(429))

    statuses = [status(session, d24, 1001).status_code]
    statuses += [cancel(session, d24, 1001).status_code for _ in range(4)]

    assert statuses == [200, 503, 503, 429, 200]


def test_fault_for_any_endpoint_hits_the_status_call_too(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.status(502), endpoint="any")

    assert status(session, d24, 1001).status_code == 502
    assert status(session, d24, 1001).status_code == 200


def test_request_with_bad_signature_does_not_consume_a_fault(
    d24: D24Sandbox, session: requests.Session
) -> None:
    d24.inject(Fault.status(500))

    unsigned = send(session, d24, "cancel", body_of(1001, "ext-1001"), secret_key="wrong")

    assert unsigned.status_code == 403
    assert cancel(session, d24, 1001).status_code == 500


def test_cleared_faults_do_not_fire(d24: D24Sandbox, session: requests.Session) -> None:
    d24.inject(Fault.reset(), endpoint="any", times=5)

    d24.clear_faults()

    assert cancel(session, d24, 1001).status_code == 200


def test_a_fault_until_cleared_fires_on_every_request_until_cleared(
    d24: D24Sandbox, session: requests.Session
) -> None:
    # Given D24 down: every signed request answered 503 until the faults are cleared
    d24.inject(Fault.status(503), endpoint="any", times=None)

    # When it is asked four times, then once more after the faults are cleared
    down = [cancel(session, d24, 1001).status_code for _ in range(3)]
    down.append(status(session, d24, 1001).status_code)
    d24.clear_faults()

    # Then every request while down got the 503 and nothing was applied; then D24 is back
    assert down == [503] * 4
    assert d24.status_of(1001) == PENDING
    assert cancel(session, d24, 1001).status_code == 200


@pytest.mark.parametrize(("endpoint", "times"), [("create", 1), ("cancel", 0)])
def test_inject_refuses_an_unknown_endpoint_or_no_times(endpoint: str, times: int) -> None:
    with pytest.raises(ValueError, match=r"endpoint|times"):
        D24Sandbox().inject(Fault.reset(), endpoint=endpoint, times=times)  # type: ignore[arg-type]
