"""`make lambda-invoke` reads the function's settings as the other entry points do
(tests/local/test_entry_points.py): the artifact refuses a bad one with the same answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.local.test_entry_points import BAD_SETTING, REFUSAL, invoke_answer, python_m


@pytest.mark.slow
def test_lambda_invoke_answers_a_bad_setting_as_invoke_does(lambda_build: Path) -> None:
    # Given the built artifact, and a setting the function cannot read
    build = ["--runtime", "lambda", "--build-dir", str(lambda_build)]

    # When one event goes through it, as make lambda-invoke runs it
    done = python_m("local.demo", *build, "events/direct-cancel.json", env=BAD_SETTING)

    # Then the artifact refused it with the same answer as in-process
    assert invoke_answer(done.stdout) == REFUSAL, done.stdout + done.stderr
    assert done.returncode == 1
