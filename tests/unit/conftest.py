"""The unit tier opens no socket, binds no port and starts no process (moto's in-process
`mock_aws` is fine: it patches botocore). A test here that tries fails at once; it belongs in
tests/integration or tests/local."""

from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(
        "tests/unit opens no socket and starts no process: move this test to tests/integration"
        " or tests/local"
    )


@pytest.fixture(autouse=True)
def _no_sockets_or_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse)


@pytest.fixture(scope="session")
def d24_server() -> NoReturn:
    """The D24 sandbox is a server: no unit test may have it."""
    _refuse()
