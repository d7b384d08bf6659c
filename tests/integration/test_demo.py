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
from local.demo import EXPECTED, local_function, main, run_event, table
from local.events import EVENTS_DIR, event_files
from local.sqs_event_source import Environment

ROOT = Path(__file__).resolve().parents[2]
BULK_CASHOUTS = 40  # make demo's is 200; the checks are the same
BULK_CHECKS = 7


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


def test_demo_runs_every_event_as_its_name_promises_then_a_bulk_cancel_through_the_queue() -> None:
    # When the demo runs, with a smaller bulk run than make demo's
    done = run_demo("--bulk-cashouts", str(BULK_CASHOUTS))

    # Then every event behaved as its name promises
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.splitlines()
    for path in event_files():
        assert any(line.startswith(f"{path.name} ") for line in table), path.name
    assert f"{len(event_files())} events, all as expected" in done.stdout
    assert '"_aws"' not in done.stdout  # the EMF documents are caught, not mixed into the table
    # And the bulk run's every check passed: D24 agrees with each published result, one result
    # per valid message, the invalid lines in the dead-letter queue, the queue empty
    bulk = done.stdout.split("Bulk cancels through the queue", 1)[1]
    checks = [line.strip() for line in bulk.splitlines() if line.strip()[:4] in ("PASS", "FAIL")]
    assert len(checks) == BULK_CHECKS
    assert all(line.startswith("PASS") for line in checks), checks
    assert f"Bulk run: {BULK_CHECKS} checks, all passed" in bulk
    # And every message is counted once: the cashouts, the five sent again, the five invalid
    total = next(line for line in bulk.splitlines() if line.strip().startswith("total"))
    assert total.split() == ["total", str(BULK_CASHOUTS + 5 + 5)]


def test_every_event_file_has_an_expected_outcome() -> None:
    assert sorted(EXPECTED) == sorted(path.name for path in event_files())


def test_invoke_one_event_prints_its_full_response() -> None:
    done = run_demo("events/direct-cancel.json")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Bulk" not in done.stdout  # one event asked for: no bulk run
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


@pytest.mark.usefixtures("restored_environ")
def test_the_demo_exits_non_zero_when_a_bulk_check_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function that says every message of a batch is done without cancelling anything
    from local.bulk_demo import environments

    def says_done(handler: object, timeout: float) -> Environment:
        return lambda event: {"batchItemFailures": []}

    monkeypatch.setattr(environments, "in_process", says_done)

    # When the demo runs its bulk run
    status = main(["--bulk-cashouts", "20"])

    # Then it fails, and says which checks did: nothing was published, the invalid lines were
    # deleted instead of reaching the dead-letter queue
    out = capsys.readouterr().out
    assert status == 1
    failed = [line.strip() for line in out.splitlines() if line.strip().startswith("FAIL")]
    assert [line.removeprefix("FAIL").strip().split(" (")[0] for line in failed] == [
        "every valid message got exactly one final published result",
        "each result is the one the cashout's state before the run calls for",
        "every invalid line ended in the dead-letter queue, and nothing else did",
    ]
    assert "cashout 50001: 0 results for 2 message(s)" in failed[0]
    assert "cashout 50001: none, expected 1 ALREADY_CANCELLED, 1 CANCELLED" in failed[1]
    assert 'missing {"cashout_id": "12a", "external_id": "ext-not-a-number"}' in failed[2]
    assert "Bulk run: 7 checks, 3 FAILED" in out
