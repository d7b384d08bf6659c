"""Execution environments for the local event source: the handler in this process, or the built
artifact in a runtime process of its own (`--runtime lambda`). Each serves one invocation at a
time and gives it `timeout` seconds, as Lambda gives a function its configured Timeout."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local.lambda_artifact import FunctionError
from local.lambda_context import LambdaContext
from local.lambda_environment import LocalLambda
from local.sqs_event_source import Environment

Handler = Callable[[Any, Any], Any]


def in_process(handler: Handler, timeout: float) -> Environment:
    """The handler called here, with a fresh context whose deadline is `timeout` away."""

    def invoke(event: dict[str, Any]) -> Any:
        answer = handler(event, LambdaContext(remaining_ms=timeout * 1000))
        # Lambda hands the event source the answer as JSON: what does not survive that is lost.
        return json.loads(json.dumps(answer))

    return invoke


def initialised(function: LocalLambda) -> LocalLambda:
    """`function` with its runtime process started and through its init, by one invocation the
    function refuses (`{}`: 400 INVALID_REQUEST, nothing sent to D24 or published).

    Lambda's init phase is not part of an invocation's timeout, but it is part of the time a
    received message stays invisible. The template's visibility timeout (six times the function's
    timeout) leaves room for it; the local one (the function's timeout, 1x) does not, so a cold
    start inside a batch could let its messages come back while they are worked.
    """
    answer = function.invoke({})
    if answer.kind != "response":
        raise FunctionError(answer)
    return function


def through_runtime(function: LocalLambda, timeout: float) -> Environment:
    """The event through the local Runtime API to the artifact; a failed invocation raises."""

    def invoke(event: dict[str, Any]) -> Any:
        answer = function.invoke(event, timeout_seconds=timeout)
        if answer.kind != "response":
            raise FunctionError(answer)
        return answer.payload

    return invoke
