"""A function that cannot load fails its invocation with the init error awslambdaric posts, as
Lambda reports it, at once rather than hanging; the next invocation tries a new process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from local.events import load_event
from tests.runtime.conftest import StartFunction, task_root

# Every test here runs the built artifact, built once per run.
pytestmark = pytest.mark.slow


def test_artifact_missing_a_dependency_reports_import_module_error(
    artifact: Path, tmp_path: Path, environment: dict[str, str], start_function: StartFunction
) -> None:
    # Given the artifact without requests/
    root = task_root(artifact, tmp_path / "task", without=["requests"])
    function = start_function(environment, task_root=root)

    # When it is invoked, twice
    started = time.monotonic()
    answer = function.invoke(load_event("direct-cancel"))
    again = function.invoke(load_event("direct-cancel"))

    # Then each invocation fails with the init error, promptly, each in a new process
    assert time.monotonic() - started < 10
    assert answer.kind == again.kind == "init_error"
    assert answer.error_type == "Runtime.ImportModuleError"
    assert answer.payload["errorMessage"] == (
        "Unable to import module 'cashout_cancel.handler': No module named 'requests'"
    )
    assert function.processes_started == 2
    assert any("[ERROR] Runtime.ImportModuleError" in line for line in function.logs)


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "cashout_cancel.handler.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'cashout_cancel.handler'",
        ),
        (
            "cashout_cancel.handlers.lambda_handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'cashout_cancel.handlers': "
            "No module named 'cashout_cancel.handlers'",
        ),
        ("lambda_handler", "Runtime.MalformedHandlerName", None),
    ],
    ids=["no-such-function", "no-such-module", "malformed"],
)
def test_wrong_handler_string_reports_an_init_error(
    environment: dict[str, str],
    start_function: StartFunction,
    handler: str,
    error_type: str,
    message: str | None,
) -> None:
    # Given the artifact with a handler string that does not point into it
    function = start_function(environment, handler=handler)

    # When it is invoked
    answer = function.invoke(load_event("direct-cancel"))

    # Then the invocation fails with awslambdaric's init error
    assert answer.kind == "init_error"
    assert answer.error_type == error_type
    if message is not None:
        assert answer.payload["errorMessage"] == message
