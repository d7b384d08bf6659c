"""The README's calling examples (examples/) run as written, against the real handler: the
direct invoke through a stand-in for boto3's Lambda client, the signed API call through the local
API, the event through a moto rule with the template's own pattern, the message through a moto
queue and the SQS caller."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.credentials import Credentials

from examples import call_api_sigv4, invoke_live_alias, put_cancel_event, send_to_queue
from local.api import LocalApi
from local.cfn_template import load_template
from local.d24_sandbox import CANCELLED, COMPLETED, D24Sandbox
from local.events import sqs_event
from tests.conftest import LambdaContext, ResultsTap

ALIAS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:cashout-cancel:live"


class InProcessLambda:
    """The part of boto3's Lambda client the example uses: `invoke`, answered by the real
    handler in this process, in the shape boto3 returns (a readable Payload)."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        from cashout_cancel.handler import lambda_handler

        self.invoked.append(FunctionName)
        result = lambda_handler(json.loads(Payload), LambdaContext())
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


def test_invoking_the_alias_returns_the_result_and_a_repeat_is_already_cancelled(
    function_env: D24Sandbox,
) -> None:
    client = InProcessLambda()
    first = invoke_live_alias.cancel_cashout(client, ALIAS_ARN, 1001, "ext-1001")
    again = invoke_live_alias.cancel_cashout(client, ALIAS_ARN, 1001, "ext-1001")
    assert (first["outcome"], again["outcome"]) == ("CANCELLED", "ALREADY_CANCELLED")
    assert client.invoked == [ALIAS_ARN, ALIAS_ARN]
    assert function_env.status_of(1001) == CANCELLED


def test_an_answer_that_is_not_a_success_is_raised_with_its_result(
    function_env: D24Sandbox,
) -> None:
    with pytest.raises(invoke_live_alias.CancelFailed) as failed:
        invoke_live_alias.cancel_cashout(InProcessLambda(), ALIAS_ARN, 2001, "ext-2001")
    assert failed.value.result["outcome"] == "NOT_CANCELLABLE"
    assert failed.value.result["cashout_status"] == COMPLETED


def test_the_invoke_client_waits_longer_than_the_function_may_run() -> None:
    timeout = load_template()["Resources"]["CancelCashoutFunction"]["Properties"]["Timeout"]
    assert timeout < invoke_live_alias.READ_TIMEOUT_SECONDS


@pytest.fixture
def local_api(function_env: D24Sandbox) -> Iterator[LocalApi]:
    from cashout_cancel.handler import lambda_handler

    with LocalApi(lambda_handler) as api:
        yield api


def test_the_signed_api_call_cancels_and_reads_the_answer(
    local_api: LocalApi, function_env: D24Sandbox
) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    api_url = local_api.url + "/v1"

    status, result = call_api_sigv4.cancel_cashout(
        api_url, 1002, "ext-1002", credentials, "us-east-1"
    )

    assert (status, result["outcome"]) == (200, "CANCELLED")
    assert function_env.status_of(1002) == CANCELLED


def test_the_api_call_is_signed_for_execute_api() -> None:
    credentials = Credentials("AKIDEXAMPLE", "secret", token="session-token")
    request = call_api_sigv4.signed_request(
        "https://abc.execute-api.eu-west-1.amazonaws.com/v1", 7, "ext-7", credentials, "eu-west-1"
    )
    authorization = request.headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    assert request.headers["X-Amz-Security-Token"] == "session-token"
    assert str(request.url).endswith("/v1/cashouts/7/cancel")


def test_the_event_matches_the_templates_rule_and_cancels(
    function_env: D24Sandbox, results: ResultsTap
) -> None:
    from cashout_cancel.handler import lambda_handler

    # Given the template's rule on a bus, forwarding what it matches to a queue
    pattern = load_template()["Resources"]["CancelCashoutFunction"]["Properties"]["Events"][
        "CancelRequested"
    ]["Properties"]["Pattern"]
    events, sqs = boto3.client("events", "us-east-1"), boto3.client("sqs", "us-east-1")
    queue_url = sqs.create_queue(QueueName="rule-target")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    events.put_rule(Name="cancel-requested", EventPattern=json.dumps(pattern))
    events.put_targets(
        Rule="cancel-requested", Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}]
    )

    # When the example puts its event
    event_id = put_cancel_event.request_cancel(events, "default", 1003, "ext-1003")

    # Then the rule delivers it, the function cancels, and the result carries the event id
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["id"] == event_id
    assert lambda_handler(delivered, LambdaContext())["outcome"] == "CANCELLED"
    [detail] = results.details()
    assert (detail["request_id"], detail["caller"]) == (event_id, "eventbridge")


def test_the_queued_message_is_a_cancel_the_sqs_caller_works(
    function_env: D24Sandbox, results: ResultsTap
) -> None:
    from cashout_cancel.handler import lambda_handler

    sqs = boto3.client("sqs", "us-east-1")
    queue_url = sqs.create_queue(QueueName="cancel-queue")["QueueUrl"]

    message_id = send_to_queue.queue_cancel(sqs, queue_url, 1004, "ext-1004")

    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    batch = sqs_event(message["Body"], message_ids=[message["MessageId"]])
    assert lambda_handler(batch, LambdaContext()) == {"batchItemFailures": []}
    [detail] = results.details()
    assert (detail["request_id"], detail["outcome"]) == (message_id, "CANCELLED")
