"""The function and what it calls, on this machine: a D24 sandbox with two merchant accounts, moto's
server on a socket (a runtime process must reach it: `mock_aws()` patches this process only), the
secrets extension's stand-in, and the handler: in this process or the artifact in awslambdaric."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

from local.d24_sandbox import D24Sandbox
from local.function_env import function_environment
from local.lambda_context import REGION, LambdaContext
from local.secrets_extension import SecretsExtension

SECRET_ID = "cashout-cancel/d24"
RESULTS_BUS = "cashout-cancel-results"
# A second merchant account (docs/contract.md section 11): the sample events naming it cancel these.
MERCHANT_SECRET_PREFIX = "cashout-cancel/merchants/"
SECOND_ACCOUNT = "acme-mx"
SECOND_ACCOUNT_CASHOUTS = range(3001, 3011)

Handler = Callable[[Any, Any], Any]


@dataclass
class LocalFunction:
    """The running function: its handler, its D24 sandbox, its environment."""

    handler: Handler
    sandbox: D24Sandbox
    environment: dict[str, str]
    endpoint: str  # the local AWS (moto's server)
    another_environment: Callable[[], Handler] | None  # through the runtime: one more process

    def environments(self, count: int) -> list[Handler]:
        """Execution environments to invoke at once, each runs one invocation at a time: in-process
        only this one; through the runtime, `count` processes, each already through its init."""
        if self.another_environment is None:
            return [self.handler]
        handlers = [self.handler, *(self.another_environment() for _ in range(count - 1))]
        for handler in handlers:  # init first: one inside a batch's visibility could requeue it
            handler({}, LambdaContext())  # an invocation the function refuses
        return handlers


def runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """--runtime and --build-dir, which make's RUNTIME=lambda passes."""
    parser.add_argument(
        "--runtime",
        choices=("in-process", "lambda"),
        default="in-process",
        help="lambda: through the built artifact under awslambdaric (make lambda-build first)",
    )
    parser.add_argument("--build-dir", type=Path, help="the local build (default: make's)")


def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the local AWS at `endpoint`, with dummy credentials."""
    import boto3

    client: Any = boto3.client  # the stubs type only literal service names
    credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
    return client(service, endpoint_url=endpoint, region_name=REGION, **credentials)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a loopback port, its store empty; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps one store per process, which an earlier run in it may have filled.
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        yield endpoint
    finally:
        server.stop()


@contextlib.contextmanager
def local_function(
    *,
    verbose: bool = False,
    runtime: str = "in-process",
    build_dir: Path | None = None,
    log_level: str | None = None,
) -> Iterator[LocalFunction]:
    """The function against a new D24 sandbox, moto's server (both accounts' secrets, the results
    bus) and the secrets extension's stand-in. This process's environment is the function's until
    the block ends; runtime "lambda" runs the build in `build_dir` (`make lambda-build`)."""
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(D24Sandbox())
        endpoint = stack.enter_context(moto_server())
        environment = function_environment(
            d24_base_url=sandbox.base_url,
            secret_id=SECRET_ID,
            merchant_secret_prefix=MERCHANT_SECRET_PREFIX,
            results_event_bus=RESULTS_BUS,
            aws_endpoint_url=endpoint,
            log_level=log_level or ("INFO" if verbose else "WARNING"),
        )
        secrets = aws_client("secretsmanager", endpoint)
        secrets.create_secret(Name=SECRET_ID, SecretString=json.dumps(sandbox.credentials))
        sandbox.add_account(
            SECOND_ACCOUNT,
            login=f"{SECOND_ACCOUNT}-login",
            password=f"{SECOND_ACCOUNT}-pass",
            secret_key=f"{SECOND_ACCOUNT}-signing-key",
        )
        for cashout_id in SECOND_ACCOUNT_CASHOUTS:
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", account=SECOND_ACCOUNT)
        secret = json.dumps(sandbox.credentials_of(SECOND_ACCOUNT))
        secrets.create_secret(Name=MERCHANT_SECRET_PREFIX + SECOND_ACCOUNT, SecretString=secret)
        aws_client("events", endpoint).create_event_bus(Name=RESULTS_BUS)
        extension = stack.enter_context(SecretsExtension(secrets))
        environment.update(extension.environment)  # the function reads its secrets through it
        # Restored when the block ends; no AWS profile or session token of the caller's.
        stack.enter_context(mock.patch.dict(os.environ))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        os.environ.update(environment)
        from cashout_cancel import container  # after the environment: its logger reads it

        # A cold container: nothing built against an earlier environment or endpoint is reused.
        container.reset()
        stack.callback(container.reset)
        handler: Handler
        another: Callable[[], Handler] | None = None
        if runtime == "lambda":
            from local.lambda_runtime import function_config

            another = partial(_lambda, stack, function_config(build_dir, environment), verbose)
            handler = another()
        else:
            from cashout_cancel.handler import lambda_handler as handler
        yield LocalFunction(handler, sandbox, environment, endpoint, another)


def _lambda(stack: contextlib.ExitStack, config: Any, verbose: bool) -> Handler:
    """One execution environment of the artifact, ended with `stack`."""
    from local.lambda_runtime import LocalLambda, RuntimeHandler

    function = LocalLambda(config, log=sys.stderr if verbose else None)
    return RuntimeHandler(stack.enter_context(function))
