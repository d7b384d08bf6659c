"""The sample events in events/ and the builders in local/events.py have AWS's exact shapes.

The reference shapes were recorded once from `sam local generate-event` into
aws_event_shapes.json, so these tests run without sam; when sam is installed,
tests/tooling/test_sam_event_shapes.py checks that the recording still matches it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cashout_cancel.callers import recognise
from local.events import (
    EVENTS_DIR,
    api_http_event,
    api_rest_event,
    direct_event,
    event_files,
    eventbridge_event,
    load_event,
    sqs_event,
)

SHAPES: dict[str, Any] = json.loads(
    (Path(__file__).with_name("aws_event_shapes.json")).read_text(encoding="utf-8")
)
CALLERS = ("api-rest", "api-http", "eventbridge", "direct", "sqs")
FILES = [path.name for path in event_files()]


def caller_of(file_name: str) -> str:
    """The caller a file is named for: its name starts with it."""
    return next(caller for caller in CALLERS if file_name.startswith(f"{caller}-"))


def files_of(caller: str) -> list[str]:
    return [name for name in FILES if caller_of(name) == caller]


def assert_rest_shape(event: dict[str, Any]) -> None:
    shape = SHAPES["api-rest"]
    assert sorted(event) == shape["top_level"]
    assert sorted(event["requestContext"]) == shape["requestContext"]
    assert sorted(event["requestContext"]["identity"]) == shape["requestContext.identity"]


def assert_http_shape(event: dict[str, Any]) -> None:
    shape = SHAPES["api-http"]
    assert sorted(event) == shape["top_level"]
    assert sorted(event["requestContext"]) == shape["requestContext"]
    assert sorted(event["requestContext"]["http"]) == shape["requestContext.http"]


def assert_eventbridge_shape(event: dict[str, Any]) -> None:
    assert sorted(event) == SHAPES["eventbridge"]["top_level"]
    assert event["version"] == "0"


def decoded_body(event: dict[str, Any]) -> Any:
    """The JSON body of an API event, decoding base64 when the event says so."""
    raw = event["body"]
    text = base64.b64decode(raw).decode("utf-8") if event["isBase64Encoded"] else raw
    return json.loads(text)


# The files


def test_there_is_an_event_for_every_caller() -> None:
    assert {caller_of(name) for name in FILES} == set(CALLERS)


@pytest.mark.parametrize("file_name", FILES)
def test_event_file_is_pretty_printed_json_named_for_its_caller(file_name: str) -> None:
    text = (EVENTS_DIR / file_name).read_text(encoding="utf-8")
    event = json.loads(text)
    assert isinstance(event, dict)
    assert text == json.dumps(event, indent=2, ensure_ascii=False) + "\n"
    assert caller_of(file_name) in CALLERS


@pytest.mark.parametrize("file_name", FILES)
def test_handler_recognises_each_event_as_the_caller_it_is_named_for(file_name: str) -> None:
    expected = {
        "api-rest": "api_gateway",
        "api-http": "api_gateway",
        "eventbridge": "eventbridge",
        "direct": "direct",
        "sqs": "sqs",
    }[caller_of(file_name)]
    assert recognise(load_event(file_name)).name == expected


@pytest.mark.parametrize("file_name", files_of("api-rest"))
def test_rest_event_has_the_shape_of_sam_aws_proxy_event(file_name: str) -> None:
    event = load_event(file_name)
    assert_rest_shape(event)
    context = event["requestContext"]
    # The copies of method, resource and path inside requestContext agree with the top level.
    assert context["httpMethod"] == event["httpMethod"]
    assert context["resourcePath"] == event["resource"]
    assert context["path"] == f"/{context['stage']}{event['path']}"
    if event["resource"] == "/{proxy+}":
        assert event["pathParameters"] == {"proxy": event["path"].lstrip("/")}
    else:
        assert event["resource"] == "/cashouts/{cashout_id}/cancel"
        assert event["path"] == f"/cashouts/{event['pathParameters']['cashout_id']}/cancel"


@pytest.mark.parametrize("file_name", files_of("api-http"))
def test_http_event_has_the_shape_of_sam_http_api_proxy_event(file_name: str) -> None:
    event = load_event(file_name)
    assert_http_shape(event)
    context = event["requestContext"]
    assert event["version"] == "2.0"
    assert context["routeKey"] == event["routeKey"]
    assert context["http"]["path"] == event["rawPath"]
    assert event["routeKey"] in (
        f"{context['http']['method']} /cashouts/{{cashout_id}}/cancel",
        "ANY /{proxy+}",
        "$default",
    )


@pytest.mark.parametrize("file_name", files_of("eventbridge"))
def test_eventbridge_event_has_the_envelope_eventbridge_sends(file_name: str) -> None:
    event = load_event(file_name)
    assert_eventbridge_shape(event)
    assert event["source"] == "merchant.payouts"
    assert event["resources"] == []


def assert_sqs_shape(event: dict[str, Any]) -> None:
    shape = SHAPES["sqs"]
    assert sorted(event) == shape["top_level"]
    for record in event["Records"]:
        assert sorted(record) == shape["record"]
        assert sorted(record["attributes"]) == shape["record.attributes"]
        assert record["eventSource"] == "aws:sqs"


@pytest.mark.parametrize("file_name", files_of("sqs"))
def test_sqs_event_has_the_shape_of_sam_sqs_receive_message(file_name: str) -> None:
    event = load_event(file_name)
    assert_sqs_shape(event)
    ids = [record["messageId"] for record in event["Records"]]
    assert len(ids) == len(set(ids))
    for record in event["Records"]:
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324


@pytest.mark.parametrize("file_name", files_of("sqs"))
def test_sqs_builder_reproduces_the_bodies_and_shape_of_each_sqs_sample(file_name: str) -> None:
    sample = load_event(file_name)
    bodies = [record["body"] for record in sample["Records"]]
    built = sqs_event(*bodies, message_ids=[r["messageId"] for r in sample["Records"]])
    assert_sqs_shape(built)
    assert [r["body"] for r in built["Records"]] == bodies


@pytest.mark.parametrize("file_name", files_of("direct"))
def test_direct_event_is_the_plain_request(file_name: str) -> None:
    # merchant is optional: it names one of several merchant accounts (docs/contract.md section 11)
    keys = sorted(load_event(file_name))
    assert keys in (["cashout_id", "external_id"], ["cashout_id", "external_id", "merchant"])


def test_each_api_request_and_eventbridge_event_has_its_own_id() -> None:
    ids = [
        event["requestContext"]["requestId"] if "requestContext" in event else event["id"]
        for event in map(load_event, FILES)
        if isinstance(event, dict) and ("requestContext" in event or "detail-type" in event)
    ]
    assert len(ids) == len(set(ids))


def test_the_merchant_samples_name_an_account_beside_external_id() -> None:
    rest = load_event("api-rest-cancel-merchant")
    assert decoded_body(rest) == {"external_id": "ext-3001", "merchant": "acme-mx"}
    assert load_event("direct-cancel-merchant")["merchant"] == "acme-mx"


def test_base64_sample_carries_the_same_body_as_a_plain_one() -> None:
    event = load_event("api-http-cancel-base64")
    assert event["isBase64Encoded"] is True
    assert decoded_body(event) == {"external_id": "ext-1002"}


# The builders


@pytest.mark.parametrize("file_name", files_of("api-rest"))
def test_rest_builder_reproduces_each_rest_sample(file_name: str) -> None:
    sample = load_event(file_name)
    catch_all = sample["resource"] == "/{proxy+}"
    built = api_rest_event(
        # Behind the catch-all only the path carries the id, and `path` gives it here.
        sample["pathParameters"].get("cashout_id", ""),
        sample["body"],
        method=sample["httpMethod"],
        path=sample["path"],
        catch_all=catch_all,
        request_id=sample["requestContext"]["requestId"],
    )
    assert built == sample


@pytest.mark.parametrize("file_name", files_of("api-http"))
def test_http_builder_reproduces_each_http_sample(file_name: str) -> None:
    sample = load_event(file_name)
    built = api_http_event(
        sample["pathParameters"]["cashout_id"],
        decoded_body(sample),
        base64=sample["isBase64Encoded"],
        request_id=sample["requestContext"]["requestId"],
    )
    assert built == sample


@pytest.mark.parametrize("file_name", files_of("eventbridge"))
def test_eventbridge_builder_reproduces_each_eventbridge_sample(file_name: str) -> None:
    sample = load_event(file_name)
    built = eventbridge_event(sample["detail"], sample["detail-type"], sample["id"])
    assert built == sample


@pytest.mark.parametrize("file_name", files_of("direct"))
def test_direct_builder_reproduces_each_direct_sample(file_name: str) -> None:
    sample = load_event(file_name)
    built = direct_event(sample["cashout_id"], sample["external_id"], sample.get("merchant"))
    assert built == sample


@pytest.mark.parametrize("base64_body", [False, True])
@pytest.mark.parametrize("catch_all", [False, True])
def test_rest_builder_keeps_aws_shape(base64_body: bool, catch_all: bool) -> None:
    event = api_rest_event(7, {"external_id": "x"}, base64=base64_body, catch_all=catch_all)
    assert_rest_shape(event)
    assert event["isBase64Encoded"] is base64_body
    assert decoded_body(event) == {"external_id": "x"}
    assert event["requestContext"]["path"] == "/v1/cashouts/7/cancel"
    expected = {"proxy": "cashouts/7/cancel"} if catch_all else {"cashout_id": "7"}
    assert event["pathParameters"] == expected


@pytest.mark.parametrize("base64_body", [False, True])
@pytest.mark.parametrize("catch_all", [False, True])
def test_http_builder_keeps_aws_shape(base64_body: bool, catch_all: bool) -> None:
    event = api_http_event("7", '{"external_id": "x"}', base64=base64_body, catch_all=catch_all)
    assert_http_shape(event)
    assert event["isBase64Encoded"] is base64_body
    assert decoded_body(event) == {"external_id": "x"}
    expected_route = "ANY /{proxy+}" if catch_all else "POST /cashouts/{cashout_id}/cancel"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == expected_route


def test_http_builder_with_a_named_stage_prefixes_raw_path() -> None:
    event = api_http_event(7, None, method="GET", stage="live")
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/live/cashouts/7/cancel"
    assert event["requestContext"]["http"]["method"] == "GET"
    assert "body" not in event  # HTTP APIs leave it out when there is none
    assert event["isBase64Encoded"] is False


def test_rest_builder_without_body_sends_null_body() -> None:
    event = api_rest_event(7, None, method="GET")
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    assert event["httpMethod"] == event["requestContext"]["httpMethod"] == "GET"


def test_builders_give_fresh_copies_with_fresh_ids() -> None:
    first = api_rest_event(1, {"external_id": "a"})
    first["requestContext"]["identity"]["sourceIp"] = "10.0.0.1"
    second = api_rest_event(1, {"external_id": "a"})
    assert second["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert first["requestContext"]["requestId"] != second["requestContext"]["requestId"]
    assert eventbridge_event({})["id"] != eventbridge_event({})["id"]


def test_eventbridge_builder_keeps_aws_shape_for_any_detail() -> None:
    event = eventbridge_event("not an object", detail_type="Cashout Created", event_id="e-1")
    assert_eventbridge_shape(event)
    assert (event["detail"], event["detail-type"], event["id"]) == (
        "not an object",
        "Cashout Created",
        "e-1",
    )
