"""The keep-alive `requests` session that D24 calls go through, with requests' per-call overhead
trimmed where the session's fixed settings make it moot.

`Session.request` merges session and request settings, re-parses the URL, scans the cookie jar
and looks the connection pool up again on every call: with the adapter's share, about 140 us of a
650 us loopback round trip (`make bench`; README, Performance has the profile). With `trust_env`
off, no session-wide cookies, auth, params or proxies, and one host, none of that changes between
calls. The classes here skip it and send the same request
through the same `Session.send` and adapter: same headers (the session's defaults merged with the
caller's, validated by requests), same body and Content-Length, same timeouts, TLS verified.
Whatever they do not cover takes the ordinary path.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_auth_from_url

# `Session.request` as requests defines it. While something else stands in its place (the X-Ray
# SDK wraps it when tracing is on) the ordinary path is taken, so that instrumentation still sees
# and traces every call.
_SESSION_REQUEST = requests.Session.__dict__["request"]


class KeepAliveSession(requests.Session):
    """A Session whose `request` prepares bytes-body requests without re-merging settings."""

    def __init__(self) -> None:
        super().__init__()
        self._prepared_urls: dict[str, str | None] = {}

    def request(
        self,
        method: Any,
        url: Any,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: Any = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        """Send one request; the fast path only for what it reproduces exactly (module doc)."""
        per_call = (params, cookies, files, auth, proxies, hooks, stream, verify, cert, json)
        url_ready = None
        if all(setting is None for setting in per_call):
            url_ready = self._fast_path_url(method, url, data)
        if url_ready is None:
            return super().request(
                method, url, params, data, headers, cookies, files, auth, timeout,
                allow_redirects, proxies, hooks, stream, verify, cert, json,
            )  # fmt: skip
        prepared = requests.PreparedRequest()
        prepared.method = method.upper()
        prepared.url = url_ready
        merged = CaseInsensitiveDict(self.headers)
        merged.update(headers or {})
        prepared.prepare_headers({key: value for key, value in merged.items() if value is not None})
        prepared.prepare_body(data, None)
        prepared.prepare_hooks(self.hooks)
        return self.send(
            prepared,
            timeout=timeout,
            allow_redirects=allow_redirects,
            proxies={},
            stream=self.stream,
            verify=self.verify,
            cert=self.cert,
        )

    def _fast_path_url(self, method: Any, url: Any, data: Any) -> str | None:
        """The prepared URL when the session's state allows the fast path, else None."""
        if (
            not isinstance(method, str)
            or not isinstance(url, str)
            or not isinstance(data, bytes)
            or self.trust_env
            or self.auth
            or self.params
            or self.proxies
            or len(self.cookies)  # a cookie D24 set must go back: requests adds the header
            or requests.Session.__dict__["request"] is not _SESSION_REQUEST
        ):
            return None
        if url not in self._prepared_urls:
            probe = requests.PreparedRequest()
            probe.prepare_url(url, None)
            # Credentials in the URL become an Authorization header on the ordinary path.
            self._prepared_urls[url] = None if any(get_auth_from_url(url)) else str(probe.url)
        return self._prepared_urls[url]


class KeepAliveAdapter(HTTPAdapter):
    """An HTTPAdapter that finds its connection pool once per URL, not once per request.

    `HTTPAdapter.send` re-parses the URL and rebuilds urllib3's pool key on every call to find
    the same pool again. The pool is cached per URL and TLS setting until the adapter is closed
    (a SnapStart restore does that) or the pool is; either way the next request looks it up anew.
    """

    _MAX_CACHED = 16  # D24 has two URLs; the bound keeps an unexpected caller from growing it

    def __init__(self, **kwargs: Any) -> None:
        self._pools: dict[tuple[Any, ...], Any] = {}
        super().__init__(**kwargs)

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> Any:
        """The pool for `request`: the cached one while it is open."""
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        key = (request.url, verify, cert)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # urllib3 sets `pool` to None when it closes one
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) >= self._MAX_CACHED:
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        """Forget the cached pools, then close as HTTPAdapter does."""
        self._pools.clear()
        super().close()
