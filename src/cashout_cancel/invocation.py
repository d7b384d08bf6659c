"""One Lambda invocation, and the per-request work every caller shares.

Each caller adapter turns its event into one request or many and shapes the results; everything
in between is here, once: the invocation's deadline, the runtime built for the container, the
cancel itself (or the refusal of an invalid request), a bug turned into INTERNAL_ERROR, the result
line and metrics under the request's correlation id, and publishing results for the callers
nobody waits on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from . import runtime
from .cancel import configuration_error
from .deadline import Deadline
from .errors import ConfigurationError
from .observability import logger, record_publishing, record_result, use_caller_dimension
from .outcomes import CancelResult, Outcome
from .result_events import ResultEvent
from .validation import CancelRequest

# Time kept after the cancels of a caller whose results are published, to put them on the bus:
# a second (PutEvents answers in tens of milliseconds), or a fifth of what is left when less.
PUBLISH_RESERVE_SECONDS = 1.0
_DEFAULT_MARGIN_SECONDS = 0.5  # when the settings cannot be read, to answer that in time


class Invocation:
    """The context of one invocation and the one way its requests are run."""

    def __init__(self, context: Any, caller: str) -> None:
        self.caller = caller
        request_id = getattr(context, "aws_request_id", None)
        self.request_id = request_id if isinstance(request_id, str) else "unknown"
        self._runtime: runtime.Runtime | ConfigurationError
        try:
            self._runtime = runtime.current()
            margin = self._runtime.settings.deadline_margin
        except ConfigurationError as problem:
            self._runtime, margin = problem, _DEFAULT_MARGIN_SECONDS
        self.deadline = Deadline.from_context(context, margin)
        use_caller_dimension(caller)

    @property
    def bulk_concurrency(self) -> int:
        """Cancels one batch may have in flight at once (1 when the settings are broken)."""
        built = self._runtime
        return 1 if isinstance(built, ConfigurationError) else built.settings.bulk_concurrency

    def cancel_deadline(self, publishes: bool) -> Deadline:
        """The deadline a cancel works to: the invocation's, less the time to publish after it."""
        if not publishes:
            return self.deadline
        return self.deadline.less(min(PUBLISH_RESERVE_SECONDS, self.deadline.remaining() / 5))

    def run(
        self, request: CancelRequest | CancelResult, correlation_id: str, *, publishes: bool = False
    ) -> CancelResult:
        """The result of one request: cancelled at D24, or the refusal passed through, with its
        result line and metrics recorded (`settle`, then `record`)."""
        started = time.perf_counter()
        result = self.settle(request, correlation_id, publishes=publishes)
        self.record(result, correlation_id, time.perf_counter() - started)
        return result

    def settle(
        self,
        request: CancelRequest | CancelResult,
        correlation_id: str,
        *,
        publishes: bool = False,
        deadline: Deadline | None = None,
    ) -> CancelResult:
        """The result of one request, without recording it. Never raises: a bug is logged with
        the correlation id and answered INTERNAL_ERROR."""
        try:
            return self._result(request, publishes, deadline)
        except Exception:
            # The correlation id goes with each line (requests of a bulk batch run side by side,
            # so no logger-wide key could hold it).
            logger.exception(
                "unexpected error while cancelling", extra={"correlation_id": correlation_id}
            )
            return CancelResult(Outcome.INTERNAL_ERROR)

    def record(self, result: CancelResult, correlation_id: str, seconds: float) -> None:
        """The result line and the metrics of one request that took `seconds`, for every caller
        alike."""
        record_result(result, self.caller, correlation_id, seconds * 1000)

    def publish(self, events: Sequence[ResultEvent]) -> list[bool]:
        """Put result events on the results bus; for each, whether it was accepted (counted in
        the ResultsPublished and ResultsNotPublished metrics)."""
        if not events:
            return []
        built = self._runtime
        if isinstance(built, ConfigurationError):
            accepted = [False] * len(events)
        else:
            accepted = built.publisher.publish(events, self.deadline)
        record_publishing(sum(accepted), len(accepted) - sum(accepted))
        return accepted

    def _result(
        self, request: CancelRequest | CancelResult, publishes: bool, deadline: Deadline | None
    ) -> CancelResult:
        if isinstance(request, CancelResult):
            return request  # refused before anything was sent
        built = self._runtime
        if isinstance(built, ConfigurationError):
            return configuration_error(request, built)
        if publishes and built.settings.results_event_bus is None:
            # Its result could not reach the ledger: cancel nothing rather than lose it.
            problem = ConfigurationError("RESULTS_EVENT_BUS is not set")
            return configuration_error(request, problem)
        return built.service.cancel(request, deadline or self.cancel_deadline(publishes))
