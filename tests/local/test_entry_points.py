"""The local entry points (make invoke, demo, api; lambda-invoke in tests/runtime) read the
function's settings one way and refuse a bad one the same way, and fail in one line, naming what
to fix, on a busy port or an event file that is not JSON. Each runs as make runs it: a new
process from the repository root."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BAD_SETTING = {"D24_TIMEOUT_SECONDS": "abc"}
REFUSAL = {
    "statusCode": 500,
    "outcome": "CONFIGURATION_ERROR",
    "cashout_id": 1005,
    "external_id": "ext-1005",
    "message": "Configuration error: D24_TIMEOUT_SECONDS must be a number.",
}


def python_m(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m <args>` from the repository root, as make runs it."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": "src:.", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def invoke_answer(stdout: str) -> Any:
    """The response `make invoke` prints."""
    return json.loads(stdout.split("response:\n", 1)[1].split("\n\n", 1)[0])


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def api_with_a_bad_setting() -> Iterator[str]:
    """`make api` started with D24_TIMEOUT_SECONDS=abc; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.api", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": "src:.", **BAD_SETTING},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # "cashout-cancel API on http://127.0.0.1:<port> ..."
        yield banner.split(" on ", 1)[1].split()[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_invoke_answers_a_bad_setting_with_the_functions_configuration_error() -> None:
    # When one event is run with a setting the function cannot read
    done = python_m("local.demo", "events/direct-cancel.json", env=BAD_SETTING)

    # Then the function itself refused it, naming the variable, and the run says so
    assert invoke_answer(done.stdout) == REFUSAL, done.stdout + done.stderr
    assert done.returncode == 1


@pytest.mark.slow
def test_the_demo_answers_every_event_with_the_same_configuration_error() -> None:
    done = python_m("local.demo", "--no-bulk", env=BAD_SETTING)

    assert done.returncode == 1
    [row] = [line for line in done.stdout.splitlines() if line.startswith("direct-cancel.json ")]
    assert row.split()[2:4] == ["500", "CONFIGURATION_ERROR"]


@pytest.mark.slow
def test_the_api_answers_a_bad_setting_with_the_same_configuration_error(
    api_with_a_bad_setting: str,
) -> None:
    with requests.Session() as session:
        session.trust_env = False
        response = session.post(
            f"{api_with_a_bad_setting}/cashouts/1005/cancel",
            json={"external_id": "ext-1005"},
            timeout=30,
        )

    assert (response.status_code, response.json()) == (500, REFUSAL)


@pytest.mark.slow
def test_a_second_api_on_a_busy_port_says_so_in_one_line(busy_port: int) -> None:
    done = python_m("local.api", "--port", str(busy_port))

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"port {busy_port} is in use: run make api PORT={busy_port + 1}"
    ]


@pytest.mark.slow
def test_invoke_with_an_event_that_is_not_json_names_the_file_and_the_error(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"cashout_id": 1,\n', encoding="utf-8")

    done = python_m("local.demo", str(bad))

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"{bad}: not JSON: Expecting property name enclosed in double quotes: line 2 column 1"
        " (char 18)"
    ]
    assert done.stdout == ""


@pytest.mark.slow
def test_invoke_with_a_missing_file_says_so_in_one_line() -> None:
    done = python_m("local.demo", "events/no-such-event.json")

    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "events/no-such-event.json: cannot read it: No such file or directory"
    ]
