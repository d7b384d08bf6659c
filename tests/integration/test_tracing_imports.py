"""The X-Ray SDK is imported only when tracing is on: a fresh interpreter runs the handler and
says what it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from cashout_cancel.handler import lambda_handler
result = lambda_handler({"cashout_id": "x", "external_id": "e"}, None)
print(json.dumps({"xray": "aws_xray_sdk" in sys.modules, "outcome": result["outcome"]}))
"""


def run_probe(**env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "POWERTOOLS_"))}
    environ.update(PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}", **env)
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_disabled_tracing_never_imports_the_xray_sdk() -> None:
    probe = run_probe(LAMBDA_TASK_ROOT=str(ROOT), POWERTOOLS_TRACE_DISABLED="true")
    assert probe == {"xray": False, "outcome": "INVALID_REQUEST"}


@pytest.mark.slow
def test_enabled_tracing_wraps_the_handler_with_the_tracer() -> None:
    probe = run_probe(
        LAMBDA_TASK_ROOT=str(ROOT),
        POWERTOOLS_TRACE_DISABLED="false",
        AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000",  # UDP to loopback only
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    assert probe["xray"] is True
    assert probe["outcome"] == "INVALID_REQUEST"
