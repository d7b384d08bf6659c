"""The function and what it calls, on this machine: a D24 sandbox, moto's server (Secrets Manager,
EventBridge, SQS) on a loopback port, the function's environment (local/function_env.py), and its
handler: `lambda_handler` in this process, or the built artifact under awslambdaric.

moto's server rather than `mock_aws()`: the function's own boto3 clients then sign real requests
and send them over a socket to the endpoint AWS_ENDPOINT_URL names, the path they take in Lambda,
and a runtime process can reach it too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.d24_sandbox import SANDBOX_LOGIN, SANDBOX_PASSWORD, SANDBOX_SECRET_KEY, D24Sandbox
from local.function_env import function_environment
from local.lambda_context import REGION, LambdaContext

SECRET_ID = "cashout-cancel/d24"
RESULTS_BUS = "cashout-cancel-results"

Handler = Callable[[Any, Any], Any]


@dataclass
class LocalFunction:
    """The running function: its handler, its D24 (None: one given by URL), its environment."""

    handler: Handler
    sandbox: D24Sandbox | None
    environment: dict[str, str]
    stack: contextlib.ExitStack
    verbose: bool = False

    def environments(self, count: int) -> list[Handler]:
        """Execution environments that may be invoked at once: in-process, only this one (Lambda
        never runs two invocations in one environment, and the handler keeps per-process state);
        through the runtime, this one and up to `count - 1` more runtime processes, each through
        its init (one invocation the function refuses, `{}`) before it is handed any work."""
        function = getattr(self.handler, "function", None)
        if function is None:
            return [self.handler]
        from local.lambda_artifact import RuntimeHandler

        handlers = [self.handler]
        for _ in range(count - 1):
            more = self.stack.enter_context(_lambda(function.config, self.verbose))
            handlers.append(RuntimeHandler(more))
        for handler in handlers:
            # Lambda's init is not part of an invocation's timeout but is part of the time a
            # received message stays invisible, which is far shorter locally than deployed.
            handler({}, LambdaContext())
        return handlers


def aws_client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the local AWS at `endpoint`, with dummy credentials."""
    import boto3

    make: Any = boto3.client  # the stubs type only literal service names
    return make(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps one store per process, which an earlier run in it may have filled.
        reset = f"{endpoint}/moto-api/reset"  # moto's own API, on its loopback port
        urllib.request.urlopen(urllib.request.Request(reset, method="POST"), timeout=10).close()  # noqa: S310
        yield endpoint
    finally:
        server.stop()


@contextlib.contextmanager
def local_function(
    *,
    verbose: bool = False,
    runtime: str = "in-process",
    build_dir: Path | None = None,
    d24_base_url: str | None = None,
) -> Iterator[LocalFunction]:
    """The function against a new D24 sandbox (or the D24 at `d24_base_url`, whose credentials
    are the sandbox's defaults) and moto's server holding the secret and the results bus.

    This process's environment is the function's until the block ends (in-process, the handler
    reads it; boto3 clients made here reach moto). runtime "lambda": the handler is the build in
    `build_dir` (`make lambda-build`) in a runtime process of its own, through a local Runtime API.
    """
    with contextlib.ExitStack() as stack:
        sandbox = None if d24_base_url else stack.enter_context(D24Sandbox())
        endpoint = stack.enter_context(moto_server())
        environment = function_environment(
            d24_base_url=sandbox.base_url if sandbox else str(d24_base_url),
            secret_id=SECRET_ID,
            results_event_bus=RESULTS_BUS,
            aws_endpoint_url=endpoint,
            log_level="INFO" if verbose else "WARNING",
        )
        credentials = sandbox.credentials if sandbox else _default_credentials()
        aws_client("secretsmanager", endpoint).create_secret(
            Name=SECRET_ID, SecretString=json.dumps(credentials)
        )
        aws_client("events", endpoint).create_event_bus(Name=RESULTS_BUS)
        stack.enter_context(_environ(environment))
        from cashout_cancel import container  # after the environment: the logger reads it

        # A cold container: nothing built against an earlier environment or endpoint is reused.
        container.reset()
        stack.callback(container.reset)
        handler: Handler
        if runtime == "lambda":
            from local.lambda_artifact import RuntimeHandler, function_config

            config = function_config(build_dir, environment=environment)
            handler = RuntimeHandler(stack.enter_context(_lambda(config, verbose)))
        else:
            from cashout_cancel.handler import lambda_handler as handler
        yield LocalFunction(handler, sandbox, environment, stack, verbose)


def _default_credentials() -> dict[str, str]:
    return {"login": SANDBOX_LOGIN, "pass": SANDBOX_PASSWORD, "secret_key": SANDBOX_SECRET_KEY}


def _lambda(config: Any, verbose: bool = False) -> Any:
    """One execution environment of the artifact; its output to stderr when verbose."""
    import sys

    from local.lambda_environment import LocalLambda

    return LocalLambda(config, log=sys.stderr if verbose else None)


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """This process's environment is `values` over its own, without an AWS profile or session,
    until the block ends; then it is restored."""
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
