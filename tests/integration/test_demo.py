"""`make demo` and `make invoke`: the demo runs every event as its name promises, from a fresh
process, and a single event shows its full response."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.d24_sandbox import Fault
from local.demo import EXPECTED, run_event, table
from local.events import EVENTS_DIR, event_files
from local.function import local_function

ROOT = Path(__file__).resolve().parents[2]
BULK_CASHOUTS = 40  # make demo's is 200; tests/local/test_bulk_run.py checks the run itself


def run_demo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m local.demo` as make runs it: from the repository root, in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "local.demo", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": "src:.", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_demo_runs_every_event_as_its_name_promises_then_a_bulk_cancel_through_the_queue() -> None:
    # When the demo runs, with a smaller bulk run than make demo's
    done = run_demo("--bulk-cashouts", str(BULK_CASHOUTS))

    # Then every event behaved as its name promises
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for path in event_files():
        assert any(line.startswith(f"{path.name} ") for line in lines), path.name
    assert f"{len(event_files())} events, all as expected" in done.stdout
    assert '"_aws"' not in done.stdout  # the EMF documents are caught, not mixed into the table
    # And a summary of the bulk run follows: what was sent, what was published for each
    # account (none sent to D24 for the one with no secret), the DLQ
    bulk = done.stdout.split("Bulk cancel through the queue", 1)[1]
    assert "ops send exit statuses 1, 0, 0" in bulk
    published = bulk.split("published, by account:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in published[:3]] == ["default", "acme-mx", "globex-ar"]
    assert all(" CANCELLED" in line for line in published[:2])
    assert published[2].split() == ["globex-ar", "2", "UNKNOWN_MERCHANT"]
    assert "in CancelDeadLetterQueue: 5: " in bulk


def test_every_event_file_has_an_expected_outcome() -> None:
    assert sorted(EXPECTED) == sorted(path.name for path in event_files())


@pytest.mark.slow
def test_invoke_one_event_prints_its_full_response() -> None:
    done = run_demo("events/direct-cancel.json")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Bulk" not in done.stdout  # one event asked for: no bulk run
    response = json.loads(done.stdout.split("response:\n", 1)[1].split("\n\n", 1)[0])
    assert response["outcome"] == "CANCELLED"
    assert response["cashout_id"] == 1005
    assert response["cashout_status_description"] == "Canceled"


def test_eventbridge_failure_is_shown_as_raised_for_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given D24 answering 503 to everything
    monkeypatch.setenv("D24_BACKOFF_BASE_SECONDS", "0.01")
    with local_function() as function:
        function.sandbox.inject(Fault.status(503), endpoint="any", times=100)

        # When the demo runs an EventBridge cancel
        row = run_event(function, EVENTS_DIR / "eventbridge-cancel.json")

    # Then the handler raised so that Lambda retries, and the demo reports a mismatch
    assert (row.status_code, row.outcome) == (502, "UPSTREAM_UNAVAILABLE")
    assert row.raised is not None
    assert "UPSTREAM_UNAVAILABLE, raised (retry)" in table([row])
    assert row.problems() == [
        "got 502 UPSTREAM_UNAVAILABLE (- -> -), expected 200 CANCELLED (Pending -> Canceled)"
    ]
