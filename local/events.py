"""Events in AWS's exact shapes, built from the samples in `events/` (from `sam local
generate-event`): each builder loads a fresh copy, replaces the fields that matter and leaves
every other key as AWS sends it, so a test event and a `sam local invoke -e` event never drift."""

from __future__ import annotations

import base64 as b64
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

SQS_TEMPLATE = "sqs-bulk-cancel"
EXPLICIT_RESOURCE = "/cashouts/{cashout_id}/cancel"
CATCH_ALL_RESOURCE = "/{proxy+}"
DETAIL_TYPE = "Cashout Cancel Requested"

Body = str | bytes | dict[str, Any] | None


def load_event(name: str) -> Any:
    """The event `events/<name>.json` (the `.json` suffix is optional), freshly parsed."""
    file_name = name if name.endswith(".json") else f"{name}.json"
    return json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))


def event_files() -> list[Path]:
    """Every sample event file, sorted by name."""
    return sorted(EVENTS_DIR.glob("*.json"))


def api_rest_event(
    cashout_id: str | int,
    body: Body,
    *,
    method: str = "POST",
    path: str | None = None,
    base64: bool = False,
    catch_all: bool = False,
    request_id: str | None = None,
    stage: str = "v1",
    headers: Sequence[tuple[str, str]] | None = None,
    query: str = "",
    source_ip: str | None = None,
) -> dict[str, Any]:
    """A REST API (payload v1) proxy event for `<method> /cashouts/<cashout_id>/cancel` (or
    `path`, through `/{proxy+}` with `catch_all`); `source_ip` makes it an unsigned request."""
    event: dict[str, Any] = load_event("api-rest-cancel")
    path = path if path is not None else f"/cashouts/{cashout_id}/cancel"
    resource = CATCH_ALL_RESOURCE if catch_all else EXPLICIT_RESOURCE
    event.update(resource=resource, path=path, httpMethod=method)
    event["pathParameters"] = _path_parameters(cashout_id, path, catch_all)
    event["body"], event["isBase64Encoded"] = _encode_body(body, base64)
    context = event["requestContext"]
    context.update(resourcePath=resource, httpMethod=method, stage=stage)
    context["path"] = f"/{stage}{path}"  # REST APIs put the stage in front of the path here
    context["requestId"] = request_id or str(uuid.uuid4())
    if headers is not None:
        # API Gateway keeps the last value of a repeated header or query parameter in one map,
        # and all of them in the other.
        event["headers"], event["multiValueHeaders"] = dict(headers) or None, _multi(headers)
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        event["queryStringParameters"] = dict(pairs) or None
        event["multiValueQueryStringParameters"] = _multi(pairs)
    if source_ip is not None:
        identity = context["identity"]
        identity.update(dict.fromkeys(("accessKey", "accountId", "caller", "user", "userArn")))
        identity["sourceIp"] = source_ip
        agents = [v for k, v in headers or () if k.lower() == "user-agent"]
        identity["userAgent"] = agents[-1] if agents else None
    return event


def api_http_event(
    cashout_id: str | int,
    body: Body,
    *,
    method: str = "POST",
    path: str | None = None,
    base64: bool = False,
    catch_all: bool = False,
    request_id: str | None = None,
    stage: str = "$default",
) -> dict[str, Any]:
    """An HTTP API (payload v2) event for `<method> /cashouts/<cashout_id>/cancel` (`ANY
    /{proxy+}` with `catch_all`); a named stage prefixes rawPath, as HTTP APIs do."""
    event: dict[str, Any] = load_event("api-http-cancel-base64")
    path = path if path is not None else f"/cashouts/{cashout_id}/cancel"
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    route_key = f"ANY {CATCH_ALL_RESOURCE}" if catch_all else f"{method} {EXPLICIT_RESOURCE}"
    event.update(routeKey=route_key, rawPath=raw_path)
    event["pathParameters"] = _path_parameters(cashout_id, path, catch_all)
    encoded, event["isBase64Encoded"] = _encode_body(body, base64)
    event.pop("body", None)  # HTTP APIs leave the key out when there is no body
    if encoded is not None:
        event["body"] = encoded
    context = event["requestContext"]
    context.update(routeKey=route_key, stage=stage)
    context["http"].update(method=method, path=raw_path)
    # HTTP APIs use short base64 ids such as "JKJaXmPLvHcESHA=" rather than UUIDs.
    context["requestId"] = request_id or b64.b64encode(os.urandom(10)).decode()
    return event


def eventbridge_event(
    detail: Any, detail_type: str = DETAIL_TYPE, event_id: str | None = None
) -> dict[str, Any]:
    """An EventBridge event carrying `detail` (any JSON value, to test invalid ones too)."""
    event: dict[str, Any] = load_event("eventbridge-cancel")
    event["id"] = event_id or str(uuid.uuid4())
    event["detail-type"] = detail_type
    event["detail"] = detail
    return event


def sqs_event(*bodies: Any, message_ids: list[str] | None = None) -> dict[str, Any]:
    """A batch from Lambda's SQS event source, one record per body (JSON text unless a string),
    each with a fresh messageId and receipt handle unless `message_ids` gives them."""
    sample = load_event(SQS_TEMPLATE)["Records"][0]
    ids = message_ids or [str(uuid.uuid4()) for _ in bodies]
    messages = []
    for index, (body, message_id) in enumerate(zip(bodies, ids, strict=True)):
        text = body if isinstance(body, str) else json.dumps(body)
        attributes = {**sample["attributes"], "SentTimestamp": str(1795968000000 + index)}
        messages.append(
            {
                "MessageId": message_id,
                "ReceiptHandle": f"AQEB{message_id}ReceiptHandle",
                "Body": text,
                "MD5OfBody": hashlib.md5(text.encode("utf-8")).hexdigest(),  # noqa: S324
                "Attributes": attributes,
            }
        )
    return received_sqs_event(messages, sample["eventSourceARN"])


def received_sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source builds from messages as ReceiveMessage returns them
    (all system and message attributes) from the queue `queue_arn`."""
    sample = load_event(SQS_TEMPLATE)["Records"][0]
    records = []
    for message in messages:
        record = {
            **sample,
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),  # the system attributes
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSourceARN": queue_arn,
            "awsRegion": queue_arn.split(":")[3],  # arn:partition:service:region:account:name
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda spells it: camelCase keys, binary values in base64."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = b64.b64encode(value["BinaryValue"]).decode("ascii")
    binaries = [b64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])]
    return attribute | {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": binaries,
        "dataType": value["DataType"],
    }


def direct_event(cashout_id: Any, external_id: Any, merchant: Any = None) -> dict[str, Any]:
    """The payload another Lambda sends with a direct Invoke (`merchant` only when given)."""
    payload = {"cashout_id": cashout_id, "external_id": external_id}
    return payload if merchant is None else {**payload, "merchant": merchant}


def _path_parameters(cashout_id: str | int, path: str, catch_all: bool) -> dict[str, str]:
    # API Gateway gives path parameters as strings; `{proxy+}` captures the path without its "/".
    return {"proxy": path.lstrip("/")} if catch_all else {"cashout_id": str(cashout_id)}


def _multi(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]] | None:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped or None


def _encode_body(body: Body, base64: bool) -> tuple[str | None, bool]:
    """The body as API Gateway passes it: a string, base64-encoded when asked to be."""
    if body is None:
        return None, False
    if isinstance(body, dict):
        body = json.dumps(body)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if base64:
        return b64.b64encode(raw).decode("ascii"), True
    return raw.decode("utf-8"), False
