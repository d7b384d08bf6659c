"""The shapes recorded in tests/unit/aws_event_shapes.json are still the ones
`sam local generate-event` gives, when sam is installed (make tools-venv)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_events import SHAPES, assert_sqs_shape

SAM = shutil.which("sam") or str(Path(__file__).resolve().parents[2] / ".venv-tools/bin/sam")
SAM_COMMANDS = {
    "api-rest": ["apigateway", "aws-proxy"],
    "api-http": ["apigateway", "http-api-proxy"],
    "sqs": ["sqs", "receive-message"],
}


@pytest.mark.slow
@pytest.mark.skipif(not Path(SAM).exists(), reason="sam is not installed (make tools-venv)")
@pytest.mark.parametrize("caller", sorted(SAM_COMMANDS))
def test_recorded_shapes_still_match_sam(caller: str) -> None:
    output = subprocess.run(
        [SAM, "local", "generate-event", *SAM_COMMANDS[caller]],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    ).stdout
    generated = json.loads(output)
    assert sorted(generated) == SHAPES[caller]["top_level"]
    if caller == "sqs":
        assert_sqs_shape(generated)
        return
    assert sorted(generated["requestContext"]) == SHAPES[caller]["requestContext"]
