"""The harness the property tests share: one event through the real handler per example.

Hypothesis runs many examples inside one test, so function-scoped fixtures (the sandbox, moto,
the function's environment) are shared by the examples of a test; `call` gives each example a
fresh sandbox and reports what the handler answered or raised and what D24 received. The
function itself stays warm across examples, as a Lambda container does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from local.d24_sandbox import D24Sandbox, Received
from tests.conftest import Invoke


@dataclass(frozen=True)
class Call:
    """One invocation: the handler's response, or what it raised, and what D24 received."""

    response: Any
    raised: BaseException | None
    received: list[Received]


Caller = Callable[[Any], Call]


@pytest.fixture
def call(invoke: Invoke, d24: D24Sandbox) -> Caller:
    """Invoke the real handler with one event, against a sandbox reset for this example."""

    def _call(event: Any) -> Call:
        d24.reset()
        try:
            response = invoke(event)
        except Exception as exc:  # each property decides whether raising was allowed
            return Call(None, exc, d24.received())
        return Call(response, None, d24.received())

    return _call
