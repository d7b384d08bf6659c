"""Random events for every entry, through the real handler (docs/contract.md sections 1, 4 and 6).

Hypothesis draws API Gateway events (REST v1 and HTTP v2; any path, method, headers and body,
plain, base64 or falsely flagged as base64, explicit route or catch-all), hostile mutations of
them, EventBridge events with any detail-type and detail, and any direct payload. For each:

- an HTTP caller is never raised at, and always gets a proxy response with a JSON object body
  whose statusCode and outcome agree with the contract's table;
- nothing invalid ever reaches D24: only signed requests with our credentials, a JSON integer
  cashout_id below 2^63 and an external_id of 1 to 100 characters;
- the answer is the one an oracle written from docs/contract.md section 4 expects: a valid request
is
  sent to D24 as exactly that cashout_id and external_id, an invalid one is a 400
  INVALID_REQUEST whose message names each offending field, and nothing is sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cashout_cancel.cancel.outcomes import OUTCOME_TABLE, Outcome
from cashout_cancel.cancel.request import MAX_BODY_BYTES
from local.d24_sandbox import Received
from local.events import (
    DETAIL_TYPE,
    api_http_event,
    api_rest_event,
    eventbridge_event,
    sqs_event,
)
from tests.conftest import LOGIN, PASSWORD, ResultsTap
from tests.properties.conftest import Call, Caller

# Examples per test (seven tests, 2,100 events in all). A valid request costs one loopback round
# trip to the sandbox and an invalid one well under a millisecond, so all seven together take
# about 20 s on two workers. derandomize: CI replays the same examples on every run.
EXAMPLES = 300
PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MAX_CASHOUT_ID = 2**63 - 1
MAX_EXTERNAL_ID = 100
D24_ANSWERS = {Outcome.NOT_FOUND, Outcome.CANCELLED, Outcome.ALREADY_CANCELLED}
D24_ANSWERS |= {Outcome.NOT_CANCELLABLE}
CALLER_KEYS = {"detail-type", "detail", "requestContext", "httpMethod", "routeKey"}


# The oracle: docs/contract.md section 4's "Valid input", and section 1's routes, written afresh.


@dataclass(frozen=True)
class Expected:
    """What the contract says one event gets. A valid request has no status_code of its own."""

    status_code: int | None = None
    outcome: str | None = None
    names: tuple[str, ...] = ()  # what a 400's message must name
    cashout_id: int | None = None  # the valid cashout_id: sent to D24 and echoed
    external_id: str | None = None

    @property
    def valid(self) -> bool:
        return self.status_code is None


def valid_cashout_id(value: Any) -> int | None:
    """A positive integer below 2^63, as a JSON integer or a string of plain decimal digits."""
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_CASHOUT_ID:
        return value
    return None


def valid_external_id(value: Any) -> str | None:
    """A non-empty string of at most 100 characters."""
    ok = isinstance(value, str) and 0 < len(value) <= MAX_EXTERNAL_ID
    return value if ok else None


def invalid(outcome: str = "INVALID_REQUEST", *names: str, **echo: Any) -> Expected:
    return Expected(OUTCOME_TABLE[Outcome(outcome)][0], outcome, names, **echo)


def expect_fields(fields: Mapping[str, Any]) -> Expected:
    cashout_id = valid_cashout_id(fields.get("cashout_id"))
    external_id = valid_external_id(fields.get("external_id"))
    named = (("cashout_id", cashout_id), ("external_id", external_id))
    names = tuple(name for name, value in named if value is None)
    if names:
        return invalid("INVALID_REQUEST", *names, cashout_id=cashout_id, external_id=external_id)
    return Expected(cashout_id=cashout_id, external_id=external_id)


ROUTE = re.compile(r"(?:^|/)cashouts/([^/]+)/cancel/?\Z")  # any stage or base-path prefix


def expect_api(event: dict[str, Any]) -> Expected:
    v2 = "routeKey" in event
    path = event["rawPath"] if v2 else event["path"]
    method = event["requestContext"]["http"]["method"] if v2 else event["httpMethod"]
    route = ROUTE.search(path)
    if route is None:
        return invalid("ROUTE_NOT_FOUND")
    if method.upper() != "POST":
        return invalid("METHOD_NOT_ALLOWED")
    fields = body_fields(event)
    if fields is None:
        return invalid("INVALID_REQUEST", "body")
    path_id = route.group(1)
    if "cashout_id" in fields:  # a body may repeat the path's cashout_id, not contradict it
        body_id = valid_cashout_id(fields["cashout_id"])
        if body_id is None or body_id != valid_cashout_id(path_id):
            return invalid("INVALID_REQUEST", "cashout_id")
    return expect_fields({**fields, "cashout_id": path_id})


def body_fields(event: dict[str, Any]) -> dict[str, Any] | None:
    """The body's JSON object ({} when there is no body), or None when it is not acceptable."""
    body = event.get("body")
    if body is None or body == "":
        return {}
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        raw = body.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def expect_eventbridge(event: dict[str, Any]) -> Expected:
    if event["detail-type"] != DETAIL_TYPE:
        return invalid("INVALID_REQUEST", "detail-type")
    if not isinstance(event["detail"], dict):
        return invalid("INVALID_REQUEST", "detail")
    return expect_fields(event["detail"])


def expect_direct(payload: Any) -> Expected:
    if not isinstance(payload, dict):
        return invalid("INVALID_REQUEST", "cashout_id", "external_id")
    return expect_fields(payload)


# What every answer and every request to D24 must look like.


def result_of(call: Call) -> tuple[int, dict[str, Any]]:
    """The statusCode and result fields of a well-formed answer of either shape."""
    response = call.response
    assert isinstance(response, dict)
    if "headers" in response:  # an API Gateway proxy response
        assert response["headers"]["Content-Type"] == "application/json"
        assert response.get("isBase64Encoded", False) is False
        body = json.loads(response["body"], parse_constant=reject_constant)
        assert isinstance(body, dict)
        status_code = response["statusCode"]
    else:  # the result object of EventBridge and direct callers
        json.dumps(response, allow_nan=False)
        body, status_code = response, response["statusCode"]
    assert body["statusCode"] == status_code
    assert OUTCOME_TABLE[Outcome(body["outcome"])][0] == status_code
    if status_code >= 300:
        assert isinstance(body["message"], str)
        assert body["message"]
    return status_code, body


def reject_constant(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


def assert_only_valid_requests(received: list[Received]) -> None:
    """Nothing invalid ever reaches D24."""
    for request in received:
        assert request.endpoint in ("cancel", "status")
        assert request.signature_valid
        assert request.header("Content-Type") == "application/json"
        assert (request.header("User-Agent") or "").startswith("cashout-cancel/")
        body = request.json()
        assert set(body) == {"login", "pass", "cashout_id", "external_id"}
        assert (body["login"], body["pass"]) == (LOGIN, PASSWORD)
        assert type(body["cashout_id"]) is int
        assert 1 <= body["cashout_id"] <= MAX_CASHOUT_ID
        assert valid_external_id(body["external_id"]) is not None


def assert_answer(expected: Expected, call: Call) -> None:
    """The answer and D24's requests are what the oracle expects."""
    assert call.raised is None, f"the handler raised {call.raised!r}"
    status_code, body = result_of(call)
    event(f"outcome: {body['outcome']}")  # shown by pytest --hypothesis-show-statistics
    assert_only_valid_requests(call.received)
    if expected.valid:
        assert Outcome(body["outcome"]) in D24_ANSWERS
        assert call.received, "a valid request was not sent to D24"
        assert call.received[0].endpoint == "cancel"
        sent = {(r.json()["cashout_id"], r.json()["external_id"]) for r in call.received}
        assert sent == {(expected.cashout_id, expected.external_id)}
        assert (body["cashout_id"], body["external_id"]) == sent.pop()
        return
    assert (status_code, body["outcome"]) == (expected.status_code, expected.outcome)
    assert call.received == [], "an invalid request reached D24"
    for name in expected.names:
        assert name in body["message"], f"the message does not name {name}"
        assert name not in body, f"the invalid {name} was echoed"
    if expected.cashout_id is not None:
        assert body["cashout_id"] == expected.cashout_id
    if expected.external_id is not None:
        assert body["external_id"] == expected.external_id


# Strategies.

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
valid_ids = st.integers(min_value=1, max_value=MAX_CASHOUT_ID)
tricky_id_strings = st.sampled_from(
    ["0", "007", "-1", "+1", "1.0", "1e3", " 12", "12 ", "1_000", "0x1F", "\u0661\u0662",
     "\uff11\uff12", str(2**63), str(2**64), "", "12\n", "1/2"]
)  # fmt: skip
# one_of picks a branch uniformly: repeating the valid ones keeps about half the values valid.
cashout_id_values = st.one_of(
    valid_ids,
    valid_ids,
    valid_ids.map(str),
    tricky_id_strings,
    st.integers(max_value=0),
    st.integers(min_value=2**63, max_value=2**70),
    json_values,
)
external_id_values = st.one_of(
    st.text(min_size=1, max_size=MAX_EXTERNAL_ID),
    st.text(min_size=1, max_size=MAX_EXTERNAL_ID),
    st.text(min_size=MAX_EXTERNAL_ID + 1, max_size=MAX_EXTERNAL_ID + 20),
    st.just(""),
    json_values,
)
# Cashouts the sandbox holds, so that valid requests also meet every answer D24 gives.
SEEDED = (1001, 2001, 2002, 2003, 2005)
seeded_requests = st.sampled_from(SEEDED).map(
    lambda cashout_id: {"cashout_id": cashout_id, "external_id": f"ext-{cashout_id}"}
)
extra_fields = st.dictionaries(
    st.text(max_size=10).filter(lambda key: key not in CALLER_KEYS | {"cashout_id"}),
    json_values,
    max_size=3,
)
valid_requests = st.builds(
    lambda cashout_id, external_id, extra: {
        **extra,
        "cashout_id": cashout_id,
        "external_id": external_id,
    },
    valid_ids | valid_ids.map(str),
    st.text(min_size=1, max_size=MAX_EXTERNAL_ID),
    extra_fields,
)
any_requests = st.builds(
    lambda known, extra: {**extra, **known},
    st.fixed_dictionaries(
        {}, optional={"cashout_id": cashout_id_values, "external_id": external_id_values}
    ),
    extra_fields,
)
# Hypothesis avoids repeating an example, so the five seeded requests are soon used up; the
# valid branch keeps a good share of valid requests (about a third) in every test.
request_fields = st.one_of(seeded_requests, valid_requests, any_requests, any_requests)
path_segments = st.one_of(
    valid_ids.map(str),
    valid_ids.map(str),
    st.sampled_from(SEEDED).map(str),
    tricky_id_strings.filter(lambda segment: "/" not in segment),
    st.text(st.characters(exclude_characters="/"), max_size=25),
)


def often(usual: str, others: list[str]) -> st.SearchStrategy[str]:
    """`usual` about three times in four, else one of `others`."""
    return st.one_of(st.just(usual), st.just(usual), st.just(usual), st.sampled_from(others))


headers = st.none() | st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40))


@st.composite
def api_bodies(draw: st.DrawFn, segment: str) -> Any:
    """A body as an API Gateway client may send it: a dict is sent as its JSON text."""
    kind = draw(often("object", ["none", "empty", "not-object", "text", "oversize", "nested"]))
    if kind == "object":
        fields = {key: value for key, value in draw(request_fields).items() if key != "cashout_id"}
        if segment in {str(seeded) for seeded in SEEDED} and draw(st.booleans()):
            fields["external_id"] = f"ext-{segment}"
        repeat = draw(st.sampled_from(["no", "no", "same", "same-as-int", "other"]))
        if repeat == "same":
            fields["cashout_id"] = segment
        elif repeat == "same-as-int" and valid_cashout_id(segment) is not None:
            fields["cashout_id"] = int(segment)
        elif repeat == "other":
            fields["cashout_id"] = draw(cashout_id_values)
        return fields
    if kind == "not-object":
        return json.dumps(draw(json_values.filter(lambda value: not isinstance(value, dict))))
    if kind == "oversize":
        return {"external_id": "ext-1", "padding": "x" * MAX_BODY_BYTES}
    if kind == "nested":
        return "[" * 3000 + "]" * 3000
    return {"none": None, "empty": "", "text": draw(st.text(max_size=40))}[kind]


@st.composite
def api_events(draw: st.DrawFn, version: str) -> dict[str, Any]:
    """A REST (v1) or HTTP (v2) API event, on the explicit route, a catch-all, or elsewhere."""
    segment = draw(path_segments)
    path_kind = draw(often("route", ["slash", "prefix", "extra", "short", "any"]))
    path = {
        "route": None,  # the builder's /cashouts/<segment>/cancel
        "slash": f"/cashouts/{segment}/cancel/",
        "prefix": f"/api/cashouts/{segment}/cancel",
        "extra": f"/cashouts/{segment}/cancel/now",
        "short": f"/cashouts/{segment}",
        "any": "/" + draw(st.text(max_size=30)),
    }[path_kind]
    method = draw(often("POST", ["post", "GET", "PUT", "DELETE", "OPTIONS", "?"]))
    if method == "?":
        method = draw(st.text(max_size=8))
    base64_mode = draw(st.sampled_from(["plain", "plain", "encoded", "flagged-but-plain"]))
    build = api_rest_event if version == "rest" else api_http_event
    event = build(
        segment,
        draw(api_bodies(segment)),
        method=method,
        path=path,
        base64=base64_mode == "encoded",
        catch_all=draw(st.booleans()),
        stage=draw(st.sampled_from(["prod", "v1" if version == "rest" else "$default"])),
    )
    if base64_mode == "flagged-but-plain" and event.get("body") is not None:
        event["isBase64Encoded"] = True
    event["headers"] = draw(headers)
    return event


@pytest.mark.slow
@pytest.mark.parametrize("version", ["rest", "http"])
@PROPERTY
@given(data=st.data())
def test_any_api_gateway_event_gets_the_contract_answer_and_only_valid_requests_reach_d24(
    version: str, data: st.DataObject, call: Caller
) -> None:
    # Given any API Gateway event of this payload format
    event = data.draw(api_events(version), label="event")

    # When it reaches the handler
    result = call(event)

    # Then the HTTP caller gets the contract's answer as JSON, and D24 only valid requests
    assert isinstance(result.response, dict)
    assert "headers" in result.response
    assert_answer(expect_api(event), result)


def mutate(event: dict[str, Any], data: st.DataObject) -> None:
    """Delete or replace one key of the event, its requestContext, or its http block."""
    targets = [event]
    context = event.get("requestContext")
    if isinstance(context, dict):
        targets.append(context)
        if isinstance(context.get("http"), dict):
            targets.append(context["http"])
    target = data.draw(st.sampled_from(targets))
    keys = st.sampled_from(sorted(target)) if target else st.nothing()
    if target and data.draw(st.booleans(), label="delete"):
        del target[data.draw(keys, label="deleted")]
        return
    new_keys = st.text(max_size=10).filter(lambda key: key not in CALLER_KEYS)
    key = data.draw(keys | new_keys if target else new_keys, label="replaced")
    target[key] = data.draw(json_values, label="with")


@pytest.mark.slow
@pytest.mark.parametrize("version", ["rest", "http"])
@PROPERTY
@given(data=st.data())
def test_hostile_api_gateway_events_never_raise_and_send_nothing_invalid(
    version: str, data: st.DataObject, call: Caller
) -> None:
    # Given an API Gateway event with one to three keys deleted or replaced by any JSON value
    event = data.draw(api_events(version), label="event")
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        mutate(event, data)

    # When it reaches the handler
    result = call(event)

    # Then it answers (a proxy response while it still looks like API Gateway), never raises,
    # and anything it sent to D24 was valid
    assert result.raised is None, f"the handler raised {result.raised!r}"
    result_of(result)
    assert_only_valid_requests(result.received)


detail_types = st.one_of(
    often(DETAIL_TYPE, ["Cashout Created", DETAIL_TYPE.lower(), DETAIL_TYPE + " "]),
    often(DETAIL_TYPE, [""]),
    json_scalars,
)


@pytest.mark.slow
@PROPERTY
@given(detail_type=detail_types, detail=st.one_of(valid_requests, request_fields, json_values))
def test_any_eventbridge_event_gets_the_contract_answer(
    detail_type: Any, detail: Any, call: Caller
) -> None:
    # Given any EventBridge event
    event = eventbridge_event(detail, detail_type=detail_type)

    # When it reaches the handler (D24 healthy, so no result is >= 500 and nothing is raised)
    result = call(event)

    # Then the result object is the contract's answer, and D24 got only valid requests
    assert_answer(expect_eventbridge(event), result)


def direct_payloads() -> st.SearchStrategy[Any]:
    return st.one_of(request_fields, request_fields, request_fields, json_values)


@pytest.mark.slow
@PROPERTY
@given(payload=direct_payloads())
def test_any_direct_payload_gets_the_contract_answer(payload: Any, call: Caller) -> None:
    # Given any payload another Lambda may send
    # When it reaches the handler
    result = call(payload)

    # Then the result object is the contract's answer, and D24 got only valid requests
    assert_answer(expect_direct(payload), result)


def test_invalid_body_still_echoes_the_valid_cashout_id_of_the_path(call: Caller) -> None:
    # Given a POST to a valid cashout's route whose body is not JSON
    # When it reaches the handler
    result = call(api_rest_event("1001", "external_id=ext-1001"))

    # Then the 400 names the body and echoes the path's cashout_id
    status_code, body = result_of(result)
    assert (status_code, body["outcome"]) == (400, "INVALID_REQUEST")
    assert "body" in body["message"]
    assert body.get("cashout_id") == 1001


# SQS: a batch of any message bodies (docs/contract.md section 9).


def expect_message(body: str) -> Expected:
    """A message body is the direct-invoke object as JSON, validated exactly as a direct one."""
    try:
        payload = json.loads(body)
    except ValueError:
        return invalid("INVALID_REQUEST", "body")
    return expect_direct(payload)


message_bodies = st.one_of(
    st.builds(json.dumps, request_fields),
    st.builds(json.dumps, request_fields),
    st.builds(json.dumps, json_values),
    st.text(max_size=30),
)


@pytest.mark.slow
@PROPERTY
@given(bodies=st.lists(message_bodies, min_size=1, max_size=5))
def test_any_sqs_batch_hands_back_exactly_the_invalid_and_publishes_the_rest(
    bodies: list[str], call: Caller, results: ResultsTap
) -> None:
    # Given a batch of any message bodies (D24 healthy, so every valid one gets a final result)
    batch = sqs_event(*bodies)
    already = len(results.details())

    # When the event source hands it to the handler
    outcome = call(batch)

    # Then exactly the invalid messages come back, the valid ones are published with D24's
    # answer about exactly their request, and nothing invalid reached D24
    assert outcome.raised is None
    failed = [failure["itemIdentifier"] for failure in outcome.response["batchItemFailures"]]
    published = {detail["request_id"]: detail for detail in results.details()[already:]}
    assert_only_valid_requests(outcome.received)
    for record, body in zip(batch["Records"], bodies, strict=True):
        expected = expect_message(body)
        if not expected.valid:
            assert record["messageId"] in failed
            assert record["messageId"] not in published
            continue
        assert record["messageId"] not in failed
        result = published[record["messageId"]]
        assert Outcome(result["outcome"]) in D24_ANSWERS
        assert (result["cashout_id"], result["external_id"]) == (
            expected.cashout_id,
            expected.external_id,
        )
