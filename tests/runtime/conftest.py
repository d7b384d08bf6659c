"""Running the built artifact as Lambda runs it: the local build (made once per test run and
shared by the xdist workers), task roots derived from it, the local services it calls, and
`start_function` to run it under awslambdaric from the local Runtime API."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from local.d24_sandbox import D24Sandbox
from local.function import RESULTS_BUS, aws_client, moto_server
from local.function_env import function_environment
from local.lambda_runtime import FUNCTION_ID, LocalLambda, function_config

REPO = Path(__file__).resolve().parents[2]
SECRET_ID = "cashout-cancel/d24-runtime-tests"

StartFunction = Callable[..., LocalLambda]


@pytest.fixture(scope="session")
def lambda_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make lambda-build` into a temporary directory: the artifact, the runtime client, and the
    interpreter they were installed for. The first worker builds; the others wait for it."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # shared by every xdist worker of this run
    build_dir = root / "lambda-build"
    with (root / "lambda-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (build_dir / "python").is_file():
            command = ["make", "-s", "--no-print-directory", "lambda-build"]
            variables = [f"LAMBDA_LOCAL_DIR={build_dir}", f"LAMBDA_PYTHON={sys.executable}"]
            done = subprocess.run(
                command + variables, cwd=REPO, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stdout + done.stderr
    return build_dir


@pytest.fixture(scope="session")
def artifact(lambda_build: Path) -> Path:
    """The built artifact: what `sam build` puts in .aws-sam/build/CancelCashoutFunction."""
    return lambda_build / FUNCTION_ID


def task_root(
    artifact: Path, where: Path, without: Iterable[str] = (), add: Mapping[str, str] | None = None
) -> Path:
    """A copy of the artifact (its entries linked, not copied) less `without`, plus modules
    `add` (file name -> source): a damaged or probed artifact without rebuilding."""
    where.mkdir()
    for entry in artifact.iterdir():
        if entry.name not in set(without):
            (where / entry.name).symlink_to(entry)
    for name, source in (add or {}).items():
        (where / name).write_text(source, encoding="utf-8")
    return where


@pytest.fixture(scope="module")
def secrets_endpoint() -> Iterator[str]:
    """A Secrets Manager on a loopback port (moto's server), which the runtime process reaches."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def sandbox() -> Iterator[D24Sandbox]:
    """A fresh D24 sandbox with the seeded cashouts."""
    with D24Sandbox() as d24:
        yield d24


@pytest.fixture
def environment(sandbox: D24Sandbox, secrets_endpoint: str) -> dict[str, str]:
    """The function's environment as the template sets it, pointed at the local services, with
    the sandbox's credentials in the secret."""
    client = aws_client("secretsmanager", secrets_endpoint)
    # moto keeps one store per process, which other tests' mock_aws() resets: write it now.
    secret = json.dumps(sandbox.credentials)
    try:
        client.create_secret(Name=SECRET_ID, SecretString=secret)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=SECRET_ID, SecretString=secret)
    create_results_bus(secrets_endpoint)
    return function_environment(
        d24_base_url=sandbox.base_url,
        secret_id=SECRET_ID,
        aws_endpoint_url=secrets_endpoint,
        results_event_bus=RESULTS_BUS,
        log_level="WARNING",
    )


def create_results_bus(endpoint: str) -> None:
    """The results bus on the local AWS endpoint, for the EventBridge and SQS events."""
    events = aws_client("events", endpoint)
    with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=RESULTS_BUS)


@pytest.fixture
def start_function(lambda_build: Path) -> Iterator[StartFunction]:
    """Start the build under awslambdaric and the local Runtime API; ended after the test.

    `start_function(environment, timeout_seconds=3, task_root=..., handler=...)`: the template's
    handler, timeout and memory unless given.
    """
    with contextlib.ExitStack() as stack:

        def start(environment: Mapping[str, str], **changes: Any) -> LocalLambda:
            config = replace(function_config(lambda_build, environment), **changes)
            return stack.enter_context(LocalLambda(config))

        yield start
