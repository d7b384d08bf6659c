"""The artifact is what runs: the template's handler string points into it, it imports only from
itself (and the runtime client from Lambda's runtime), the context is awslambdaric's, and
SnapStart's hooks run through awslambdaric's restore flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.d24_sandbox import CANCELLED, D24Sandbox
from local.events import load_event
from local.lambda_context import ALIAS_ARN
from local.lambda_runtime import template_properties
from tests.runtime.conftest import StartFunction, task_root

# Every test here runs the built artifact, built once per run.
pytestmark = pytest.mark.slow

PROBE = """
import sys

from cashout_cancel import handler as function


def lambda_handler(event, context):
    answer = function.lambda_handler(event, context)  # first: some imports wait for it
    modules = ("cashout_cancel", "requests", "boto3", "aws_lambda_powertools", "awslambdaric")
    return {
        "files": {name: sys.modules[name].__file__ for name in modules},
        "context": {
            "type": f"{type(context).__module__}.{type(context).__qualname__}",
            "invoked_function_arn": context.invoked_function_arn,
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "answer": answer,
    }
"""


def test_template_handler_is_the_artifacts_handler_module(artifact: Path) -> None:
    # Given the template's Handler, module.function
    module, _, function = template_properties()["Handler"].rpartition(".")

    # Then the artifact holds that module at the root, as Lambda imports it from /var/task
    source = artifact / (module.replace(".", "/") + ".py")
    assert source.is_file()
    assert f"def {function}(" in source.read_text(encoding="utf-8")
    assert not (artifact / "src").exists()


def test_artifact_imports_only_from_itself_and_gets_lambdas_context(
    artifact: Path,
    lambda_build: Path,
    tmp_path: Path,
    environment: dict[str, str],
    start_function: StartFunction,
) -> None:
    # Given a probe beside the function in the artifact
    root = task_root(artifact, tmp_path / "task", add={"probe.py": PROBE})
    function = start_function(environment, task_root=root, handler="probe.lambda_handler")

    # When it runs a cancel
    answer = function.invoke(load_event("direct-cancel"))

    # Then the function and its dependencies came from the artifact, the runtime client from
    # the runtime's directory, and nothing from src/ or a virtual environment
    assert answer.kind == "response", answer.payload
    files = answer.payload["files"]
    assert files.pop("awslambdaric").startswith(str(lambda_build / "runtime"))
    assert all(path.startswith(str(root)) for path in files.values()), files
    # ...the context is the one awslambdaric builds from the Runtime API's headers
    context = answer.payload["context"]
    assert context["type"] == "awslambdaric.lambda_context.LambdaContext"
    assert context["invoked_function_arn"] == ALIAS_ARN
    assert context["invoked_function_arn"].endswith(":function:cashout-cancel:live")
    assert context["function_name"] == "cashout-cancel"
    assert context["memory_limit_in_mb"] == "512"  # a string: Lambda reads it from the env
    assert 0 < context["remaining_ms"] <= template_properties()["Timeout"] * 1000
    # ...and the function answered
    assert answer.payload["answer"]["outcome"] == "CANCELLED"


SNAPSTART_PROBE = """
import snapshot_restore_py

from cashout_cancel import handler as function  # registers the function's hooks

ran = []


def _recorded(hook):
    def run(*args, **kwargs):
        ran.append(f"{hook.__module__}.{hook.__qualname__}")
        return hook(*args, **kwargs)

    return run


hooks = snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()
for registry in hooks:
    registry[:] = [(_recorded(hook), args, kwargs) for hook, args, kwargs in registry]


def lambda_handler(event, context):
    return {"hooks": ran, "answer": function.lambda_handler(event, context)}
"""


def test_snapstart_hooks_run_through_the_runtime_clients_restore_flow(
    artifact: Path,
    tmp_path: Path,
    sandbox: D24Sandbox,
    environment: dict[str, str],
    start_function: StartFunction,
) -> None:
    # Given the function initialised as SnapStart initialises it, hooks recorded by a probe
    root = task_root(artifact, tmp_path / "task", add={"probe.py": SNAPSTART_PROBE})
    function = start_function(
        environment, task_root=root, handler="probe.lambda_handler", snap_start=True
    )

    # When the restored function runs a cancel
    answer = function.invoke(load_event("direct-cancel"))

    # Then awslambdaric ran the function's before-snapshot hook, waited on restore/next, ran
    # the after-restore hook, and only then asked for the event
    assert function.api is not None
    assert function.api.calls[:2] == ["restore/next", "next"]
    assert answer.kind == "response", answer.payload
    assert answer.payload["hooks"] == [
        "cashout_cancel.snapstart.before_snapshot",
        "cashout_cancel.snapstart.after_restore",
    ]
    # ...and the restored copy cancels (the secret read after the restore, not before)
    assert answer.payload["answer"]["outcome"] == "CANCELLED"
    assert sandbox.status_of(1005) == CANCELLED
