"""One Lambda invocation, and the per-request work every caller shares.

Each caller adapter turns its event into one request or many and shapes the results; everything
in between is here, once: the invocation's deadline, the container's cancel use case (or the
refusal of an invalid request), a bug turned into INTERNAL_ERROR, the result line and metrics
under the request's correlation id, and putting results on the bus for the callers nobody waits
on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from . import container
from .cancel.outcomes import CancelResult, Outcome
from .cancel.request import CancelRequest
from .cancel.service import configuration_error
from .d24.pace import Pace
from .deadline import Deadline
from .observability import logger, record_publishing, record_result, use_caller_dimension
from .result_events import ResultEvent
from .settings import ConfigurationError

# Time kept after the cancels of a caller whose results are published, to put them on the bus:
# a second (PutEvents answers in tens of milliseconds), or a fifth of what is left when less.
PUBLISH_RESERVE_SECONDS = 1.0
_DEFAULT_MARGIN_SECONDS = 0.5  # when the settings cannot be read, to answer that in time
DEFAULT_ACCOUNT = ""  # the merchant account of D24_SECRET_ID


class Invocation:
    """The context of one invocation: `run` a request, `publish` results."""

    def __init__(self, context: Any, caller: str, *, publishes: bool = False) -> None:
        self.caller = caller
        request_id = getattr(context, "aws_request_id", None)
        self.request_id = request_id if isinstance(request_id, str) else "unknown"
        self._built: container.Container | ConfigurationError
        try:
            self._built = container.current()
            margin = self._built.settings.deadline_margin
        except ConfigurationError as problem:
            self._built, margin = problem, _DEFAULT_MARGIN_SECONDS
        self.deadline = Deadline.from_context(context, margin)
        self._publishes = publishes
        # The cancels of a caller whose results are published leave time to publish them.
        reserve = min(PUBLISH_RESERVE_SECONDS, self.deadline.remaining() / 5) if publishes else 0
        self._cancel_deadline = self.deadline.less(reserve)
        built = self._built
        if (
            publishes
            and isinstance(built, container.Container)
            and built.settings.results_event_bus
        ):
            # The EventBridge client (boto3's import and EventBridge's model: hundreds of
            # milliseconds cold) is built now, on the cancels' time: the time kept back to
            # publish is for PutEvents. The secret, read through the extension, no longer pulls
            # boto3 in first.
            container.events_client()
        # D24 throttles per merchant account: one pace per account, shared by this invocation's
        # cancels (a 429 to one holds back the others), never by the next invocation's.
        self._paces: dict[str, Pace] = {}
        self._paces_lock = threading.Lock()
        use_caller_dimension(caller)

    @property
    def concurrency(self) -> int:
        """Requests of one batch that may be run at once: BULK_CONCURRENCY (1 when the settings
        are broken: each request is then answered at once)."""
        built = self._built
        return built.settings.bulk_concurrency if isinstance(built, container.Container) else 1

    def run(self, request: CancelRequest | CancelResult, correlation_id: str) -> CancelResult:
        """The result of one request (cancelled at D24, or the refusal passed through), with its
        result line and metrics recorded. Never raises: a bug is logged with the correlation id
        and answered INTERNAL_ERROR. Safe to call from several threads at once."""
        started = time.perf_counter()
        try:
            result = self._result(request)
        except Exception:
            # The correlation id goes with each line (a batch's requests run side by side, so
            # no logger-wide key could hold it).
            logger.exception(
                "unexpected error while cancelling", extra={"correlation_id": correlation_id}
            )
            result = CancelResult(Outcome.INTERNAL_ERROR)
        record_result(result, self.caller, correlation_id, (time.perf_counter() - started) * 1000)
        return result

    def pace(self, account: str = DEFAULT_ACCOUNT) -> Pace:
        """The pace of this invocation's requests to D24 for one merchant account."""
        with self._paces_lock:
            return self._paces.setdefault(account, Pace())

    def publish(self, events: Sequence[ResultEvent]) -> list[bool]:
        """Put result events on the results bus; for each, whether it was accepted (counted in
        the ResultsPublished and ResultsNotPublished metrics)."""
        if not events:
            return []
        built = self._built
        if isinstance(built, container.Container):
            accepted = built.publisher.publish(events, self.deadline)
        else:
            accepted = [False] * len(events)
        record_publishing(sum(accepted), len(accepted) - sum(accepted))
        return accepted

    def _result(self, request: CancelRequest | CancelResult) -> CancelResult:
        if isinstance(request, CancelResult):
            return request  # refused before anything was sent
        built = self._built
        if not isinstance(built, container.Container):
            return configuration_error(request, built)
        if self._publishes and built.settings.results_event_bus is None:
            # Its result could not reach the ledger: cancel nothing rather than lose it.
            return configuration_error(request, ConfigurationError("RESULTS_EVENT_BUS is not set"))
        account = request.merchant or DEFAULT_ACCOUNT
        return built.service.cancel(request, self._cancel_deadline, self.pace(account))
