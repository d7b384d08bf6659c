"""The keep-alive session's fast path sends exactly what `Session.request` would, and steps aside
whenever it could not (cookies, instrumentation such as X-Ray's, credentials in the URL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from cashout_cancel.d24_client import new_session
from cashout_cancel.http_session import KeepAliveSession
from local.d24_sandbox import D24Sandbox, Received

BODY = b'{"login":"merchant-login","pass":"merchant-pass","cashout_id":1001,"external_id":"x"}'
HEADERS = {
    "Content-Type": "application/json",
    "Payload-Signature": "ab" * 32,
    "User-Agent": "cashout-cancel/1.0.0",
}


@pytest.fixture
def ordinary() -> Iterator[requests.Session]:
    """A plain Session configured like the function's, for comparison."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture
def keep_alive() -> Iterator[requests.Session]:
    """The function's session."""
    session = new_session()
    yield session
    session.close()


def _send(
    session: requests.Session, d24: D24Sandbox, headers: dict[str, Any] | None = None
) -> Received:
    response = session.request(
        "DELETE",
        d24.base_url + "/cashout/cancel",
        data=BODY,
        headers=HEADERS if headers is None else headers,
        timeout=(2.0, 5.0),
        allow_redirects=False,
    )
    assert response.status_code in (200, 403, 412)
    return d24.received()[-1]


def _pool(session: requests.Session, d24: D24Sandbox) -> Any:
    adapter = session.get_adapter(d24.base_url)
    assert isinstance(adapter, HTTPAdapter)
    request = requests.Request("DELETE", d24.base_url + "/cashout/cancel").prepare()
    return adapter.get_connection_with_tls_context(request, True)


def test_fast_path_sends_the_same_request_as_session_request(
    d24: D24Sandbox,
    ordinary: requests.Session,
    keep_alive: requests.Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the function's session and a plain one
    merges: list[str] = []
    merge = requests.Session.merge_environment_settings

    def counted(self: requests.Session, url: str, *args: Any) -> Any:
        merges.append(url)
        return merge(self, url, *args)

    monkeypatch.setattr(requests.Session, "merge_environment_settings", counted)
    # When each sends the same signed cancel
    expected = _send(ordinary, d24)
    sent = _send(keep_alive, d24)
    # Then only the plain one merged settings (the other took the fast path)
    assert len(merges) == 1
    # And D24 received the same method, path, headers and body from both
    assert (sent.method, sent.path, sent.body) == (expected.method, expected.path, expected.body)
    assert sent.headers == expected.headers


def test_header_set_to_none_is_left_out_as_requests_does(
    d24: D24Sandbox, ordinary: requests.Session, keep_alive: requests.Session
) -> None:
    expected = _send(ordinary, d24, headers={**HEADERS, "Accept-Encoding": None})
    sent = _send(keep_alive, d24, headers={**HEADERS, "Accept-Encoding": None})
    # http.client then says "identity", on both paths
    assert sent.headers == expected.headers


def test_a_cookie_the_server_set_is_sent_back(
    d24: D24Sandbox, keep_alive: requests.Session
) -> None:
    # Given a cookie in the session's jar (as a load balancer might set one)
    keep_alive.cookies.set("AWSALB", "sticky", domain="127.0.0.1", path="/")
    # When the next request goes out
    sent = _send(keep_alive, d24)
    # Then it carries the cookie, as Session.request would send it
    assert sent.header("Cookie") == "AWSALB=sticky"


def test_instrumented_session_request_sees_every_call(
    d24: D24Sandbox, keep_alive: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given something wraps Session.request, as the X-Ray SDK does when tracing is on
    seen: list[str] = []
    original = requests.Session.request

    def traced(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(url)
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", traced)
    # When the function's session sends a request
    _send(keep_alive, d24)
    # Then the wrapper saw it
    assert seen == [d24.base_url + "/cashout/cancel"]


def test_credentials_in_the_url_become_basic_auth_as_with_session_request(
    d24: D24Sandbox, ordinary: requests.Session, keep_alive: requests.Session
) -> None:
    url = d24.base_url.replace("http://", "http://user:secret@") + "/cashout/cancel"
    for session in (ordinary, keep_alive):
        session.request("DELETE", url, data=BODY, headers=HEADERS, timeout=(2.0, 5.0))
    expected, sent = d24.received()[-2:]
    assert sent.header("Authorization") is not None
    assert sent.headers == expected.headers


def test_connection_is_kept_alive_and_reopened_after_the_adapter_closes(
    d24: D24Sandbox, keep_alive: requests.Session
) -> None:
    # Given two requests on one connection
    first = _pool(keep_alive, d24)
    _send(keep_alive, d24)
    _send(keep_alive, d24)
    assert first.num_connections == 1
    # When the adapter is closed (a SnapStart restore does that)
    for adapter in keep_alive.adapters.values():
        adapter.close()
    # Then the next request opens a new pool and still gets through
    _send(keep_alive, d24)
    assert _pool(keep_alive, d24) is not first


def test_other_bodies_and_arguments_take_the_ordinary_path(
    d24: D24Sandbox, keep_alive: requests.Session
) -> None:
    response = keep_alive.request(
        "POST", d24.base_url + "/cashout/status", json={"cashout_id": 1001}, timeout=2.0
    )
    assert response.status_code == 403  # unsigned: the sandbox refuses it, but it arrived
    assert d24.received()[-1].json() == {"cashout_id": 1001}
    assert isinstance(keep_alive, KeepAliveSession)
