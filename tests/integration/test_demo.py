"""`make demo` and `make invoke`: the demo runs every event as its name promises, from a fresh
process, and a single event shows its full response."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.d24_sandbox import Fault
from local.demo import EXPECTED, local_function, run_event, table
from tests.builders import EVENTS_DIR, event_files

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m local.demo` as make runs it: from the repository root, in a new process."""
    env = {**os.environ, "PYTHONPATH": "src:."}
    return subprocess.run(
        [sys.executable, "-m", "local.demo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def restored_environ() -> Iterator[None]:
    """The demo sets the function's environment in os.environ; put it back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_demo_runs_every_event_as_its_name_promises() -> None:
    done = run_demo()

    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.splitlines()
    for path in event_files():
        assert any(line.startswith(f"{path.name} ") for line in table), path.name
    assert f"{len(event_files())} events, all as expected" in done.stdout
    assert '"_aws"' not in done.stdout  # the EMF documents are caught, not mixed into the table


def test_every_event_file_has_an_expected_outcome() -> None:
    assert sorted(EXPECTED) == sorted(path.name for path in event_files())


def test_invoke_one_event_prints_its_full_response() -> None:
    done = run_demo("events/direct-cancel.json")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "CANCELLED" in done.stdout
    response = json.loads(done.stdout.split("response:\n", 1)[1].split("\n\n", 1)[0])
    assert response["outcome"] == "CANCELLED"
    assert response["cashout_id"] == 1005
    assert response["cashout_status_description"] == "Canceled"


def test_invoke_with_a_missing_file_says_so() -> None:
    done = run_demo("events/no-such-event.json")

    assert done.returncode == 2
    assert "no such event file" in done.stderr


@pytest.mark.usefixtures("restored_environ")
def test_eventbridge_failure_is_shown_as_raised_for_retry() -> None:
    # Given D24 answering 503 to everything
    with local_function() as (sandbox, handler):
        os.environ["D24_BACKOFF_BASE_SECONDS"] = "0.01"
        sandbox.inject(Fault.status(503), endpoint="any", times=100)

        # When the demo runs an EventBridge cancel
        row = run_event(handler, sandbox, EVENTS_DIR / "eventbridge-cancel.json", verbose=False)

    # Then the handler raised so that Lambda retries, and the demo reports a mismatch
    assert (row.status_code, row.outcome) == (502, "UPSTREAM_UNAVAILABLE")
    assert row.raised is not None
    assert "UPSTREAM_UNAVAILABLE, raised (retry)" in table([row])
    assert (row.before, row.after) == ("Pending", "Pending")
    assert row.problems() == [
        "got 502 UPSTREAM_UNAVAILABLE (Pending -> Pending), expected 200 CANCELLED "
        "(Pending -> Cancelled)"
    ]
