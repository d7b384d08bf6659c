"""Tracing is on only in Lambda and unless switched off (the X-Ray SDK imported only when it is
on: tests/integration/test_tracing_imports.py)."""

from __future__ import annotations

import pytest

from cashout_cancel.observability import tracing_enabled


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),  # not in Lambda
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
    ],
)
def test_tracing_is_on_only_in_lambda_and_unless_disabled(
    environ: dict[str, str], expected: bool
) -> None:
    assert tracing_enabled(environ) is expected
