"""Every sample event gets the same answer from the built artifact under awslambdaric as from
the handler imported in-process: what the tests prove in-process holds for what deploys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from local.api import LocalApi
from local.demo import run_event
from local.events import event_files
from local.function import local_function


def answers(runtime: str, build_dir: Path | None = None) -> dict[str, Any]:
    """Each event's status code, outcome, cashout, and D24's state and calls around it."""
    with local_function(runtime=runtime, build_dir=build_dir) as function:
        rows = [run_event(function, path) for path in event_files()]
    return {
        row.file: (
            row.status_code,
            row.outcome,
            row.response,
            row.cashout,
            row.before,
            row.after,
            row.d24_calls,
        )
        for row in rows
        if row.raised is None
    }


@pytest.mark.slow
def test_every_event_answers_the_same_in_process_and_through_the_artifact(
    lambda_build: Path,
) -> None:
    # Given every event in events/, run once through the imported handler
    in_process = answers("in-process")
    assert len(in_process) == len(event_files())  # none raised

    # When the same events run through the built artifact under the runtime client
    through_runtime = answers("lambda", lambda_build)

    # Then each answer is the same
    assert through_runtime == in_process


@pytest.mark.slow
def test_local_api_serves_through_the_artifact(lambda_build: Path) -> None:
    # Given `make api RUNTIME=lambda`: the local API in front of the built artifact
    with (
        local_function(runtime="lambda", build_dir=lambda_build) as function,
        LocalApi(function.handler) as api,
    ):
        # When a client cancels over HTTP
        response = requests.post(
            f"{api.url}/cashouts/1001/cancel", json={"external_id": "ext-1001"}, timeout=30
        )

    # Then the artifact's answer comes back as the HTTP answer
    assert (response.status_code, response.json()["outcome"]) == (200, "CANCELLED")
