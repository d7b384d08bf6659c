"""A few minutes of synthetic traffic through the real handler, as EMF documents.

Every call goes through `local.demo`'s local function (the D24 sandbox and a local Secrets
Manager) and its `run_event`, which catches the EMF lines the handler prints. The calls run
back to back; each is given a planned time in a simulated run of MINUTES minutes, and the EMF
`Timestamp` of its documents is rewritten to that time, so the graphs show minutes, not the
seconds the run took. The plan (seeded, so the picture is reproducible):

- all the time: API (REST and HTTP), EventBridge and direct callers, with a mix of outcomes made
  by the state of each cashout in the sandbox, and some slow D24 answers;
- OUTAGE: D24 answers 503 or never answers for most calls (UPSTREAM_UNAVAILABLE/TIMEOUT);
- AUTH: two calls from an IP D24 does not whitelist (401, code 402);
- BULK: batches of 10 cancel messages through the SQS caller, when the handler serves it (an
  older handler that does not is noted, and its answers dropped).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.d24_sandbox import CANCELLED, COMPLETED, PENDING, D24Sandbox, Fault, FaultTarget
from local.dashboard import emf, stand_ins
from local.demo import RESULTS_BUS, Row, local_function, run_event
from local.events import api_http_event, api_rest_event, direct_event, eventbridge_event
from local.function_env import FUNCTION_ENV

MINUTES = 12
START_MS = 1_767_268_800_000  # 2026-01-01T12:00:00Z: a fixed start, for a reproducible picture
OUTAGE = (240, 390)  # seconds into the run
AUTH = (540, 560)
BULK = (420, 660)
BULK_MESSAGES = 200
# Per minute, by caller: a steady flow that lets every outcome of the mix show.
PER_MINUTE = {"api-rest": 5, "api-http": 1, "eventbridge": 3, "direct": 2}
# D24's read timeout for the run: the template's 5 s would make each simulated timeout take
# seconds of real time; the deadline logic is the same at any scale.
LOCAL_READ_TIMEOUT_S = "0.3"

Handler = Callable[[Any, Any], Any]
Faults = tuple[tuple[Fault, FaultTarget, int], ...]  # (fault, endpoint, times) before a call


@dataclass(frozen=True)
class Call:
    """One planned invocation: when, what event, and what D24 does meanwhile."""

    second: float
    caller: str
    event: dict[str, Any]
    faults: Faults = ()


@dataclass
class Traffic:
    """The run's EMF documents (the function's and the stand-ins), and what to say about it."""

    namespace: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    invocations: int = 0
    notes: list[str] = field(default_factory=list)


def run(seed: int = 7) -> Traffic:
    """Run the plan through the real handler; the documents carry simulated timestamps."""
    with local_function() as (sandbox, handler), tempfile.TemporaryDirectory() as scratch:
        _configure()
        # The namespace the function's metrics object was built with (when its module was first
        # imported), which is the one its EMF documents carry.
        from cashout_cancel.observability import NAMESPACE

        traffic = Traffic(namespace=NAMESPACE)
        calls: list[stand_ins.Invocation] = []
        plan = sorted(_plan(random.Random(seed), sandbox), key=lambda call: call.second)
        for call in plan:
            _play(call, handler, sandbox, Path(scratch), traffic, calls)
        traffic.documents += stand_ins.documents(calls)
        traffic.invocations = len(calls)
    traffic.notes.append(f"D24 read timeout lowered to {LOCAL_READ_TIMEOUT_S} s for the run")
    return traffic


def _configure() -> None:
    """The template's literal settings, a results bus on the local AWS, a short D24 timeout."""
    os.environ.update(FUNCTION_ENV)
    os.environ["RESULTS_EVENT_BUS"] = RESULTS_BUS
    os.environ["D24_TIMEOUT_SECONDS"] = LOCAL_READ_TIMEOUT_S
    # The result lines of hundreds of calls (ERROR for every 5xx) would bury the tool's output;
    # the EMF lines, which this reads, are printed apart from the logger.
    logging.getLogger(FUNCTION_ENV["POWERTOOLS_SERVICE_NAME"]).setLevel(logging.CRITICAL)


def _play(
    call: Call,
    handler: Handler,
    sandbox: D24Sandbox,
    scratch: Path,
    traffic: Traffic,
    calls: list[stand_ins.Invocation],
) -> None:
    for fault, endpoint, times in call.faults:
        sandbox.inject(fault, endpoint, times)
    path = scratch / f"{uuid.uuid4()}.json"
    path.write_text(json.dumps(call.event), encoding="utf-8")
    started = time.perf_counter()
    row = run_event(handler, sandbox, path, verbose=False)
    duration_ms = (time.perf_counter() - started) * 1000
    sandbox.clear_faults()
    if call.caller == "sqs" and not _served_as_batch(row):
        _note_once(traffic, "SQS batches skipped: this handler does not answer them as batches")
        return
    timestamp = START_MS + int(call.second * 1000)
    for document in emf.documents(row.metrics):
        document["_aws"]["Timestamp"] = timestamp
        traffic.documents.append(document)
    api_status = row.status_code if call.caller.startswith("api-") else None
    calls.append(stand_ins.Invocation(timestamp, duration_ms, row.raised is not None, api_status))


def _served_as_batch(row: Row) -> bool:
    return isinstance(row.response, dict) and "batchItemFailures" in row.response


def _note_once(traffic: Traffic, note: str) -> None:
    if note not in traffic.notes:
        traffic.notes.append(note)


def _plan(rng: random.Random, sandbox: D24Sandbox) -> Iterator[Call]:
    ids = iter(range(300_001, 400_000))
    for minute in range(MINUTES):
        for caller, count in PER_MINUTE.items():
            for _ in range(count):
                second = minute * 60 + rng.uniform(0, 60)
                yield _single(rng, sandbox, next(ids), caller, second)
    for batch in range(BULK_MESSAGES // 10):
        second = BULK[0] + (BULK[1] - BULK[0]) * batch / (BULK_MESSAGES // 10)
        yield _batch(rng, sandbox, ids, second)


def _single(
    rng: random.Random, sandbox: D24Sandbox, cashout_id: int, caller: str, second: float
) -> Call:
    """One caller's request, its outcome set up in the sandbox, its faults by the time."""
    roll = rng.random()
    external_id = f"ext-{cashout_id}"
    if roll < 0.70:
        sandbox.add_cashout(cashout_id, external_id, PENDING)
    elif roll < 0.78:
        sandbox.add_cashout(cashout_id, external_id, CANCELLED)
    elif roll < 0.86:
        sandbox.add_cashout(cashout_id, external_id, COMPLETED)
    elif roll < 0.95:
        pass  # no such cashout: NOT_FOUND
    else:
        external_id = ""  # INVALID_REQUEST, refused before D24
    return Call(second, caller, _event(caller, cashout_id, external_id, rng), _faults(rng, second))


def _event(caller: str, cashout_id: int, external_id: str, rng: random.Random) -> dict[str, Any]:
    body = {"external_id": external_id}
    if caller == "api-rest":
        method = "GET" if rng.random() < 0.04 else "POST"  # now and then METHOD_NOT_ALLOWED
        return api_rest_event(cashout_id, body, method=method)
    if caller == "api-http":
        return api_http_event(cashout_id, body)
    if caller == "eventbridge":
        return eventbridge_event({"cashout_id": cashout_id, "external_id": external_id})
    return direct_event(cashout_id, external_id)


def _faults(rng: random.Random, second: float) -> Faults:
    """What D24 does during one call: an outage, an unknown IP, or now and then a slow answer."""
    if OUTAGE[0] <= second < OUTAGE[1]:
        roll = rng.random()
        if roll < 0.55:
            return ((Fault.status(503), "any", 20),)
        if roll < 0.80:
            return ((Fault.hang(), "any", 20),)
        return ()
    if AUTH[0] <= second < AUTH[1]:
        return ((Fault.status(401, {"code": 402, "message": "Unregistered IP"}), "any", 20),)
    if rng.random() < 0.15:
        return ((Fault.delay(rng.uniform(0.05, 0.25)), "cancel", 1),)
    return ()


def _batch(rng: random.Random, sandbox: D24Sandbox, ids: Iterator[int], second: float) -> Call:
    """Ten cancel messages, as SQS delivers them to the function."""
    bodies = []
    for _ in range(10):
        cashout_id = next(ids)
        valid = rng.random() > 0.03
        if valid:
            sandbox.add_cashout(cashout_id, f"ext-{cashout_id}", PENDING)
        external_id = f"ext-{cashout_id}" if valid else ""
        bodies.append(json.dumps({"cashout_id": cashout_id, "external_id": external_id}))
    faults: Faults = ()
    if rng.random() < 0.3:
        faults = ((Fault.status(503), "cancel", rng.randint(1, 4)),)
    return Call(second, "sqs", _sqs_event(bodies), faults)


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event source batch, in the shape Lambda delivers it."""
    sent = str(START_MS)
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"local-{index}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": sent,
                    "SenderId": "AIDALOCALSENDER",
                    "ApproximateFirstReceiveTimestamp": sent,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:CancelQueue",
                "awsRegion": "us-east-1",
            }
            for index, body in enumerate(bodies)
        ]
    }
