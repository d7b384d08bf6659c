"""`cashout-ops` end to end: credentials and region the AWS CLI's way, --endpoint-url for both
commands and both of AWS's services, exit statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ops.aws import region_of_queue_url
from tests.ops.conftest import LocalAws, Ran, cancels, failure_message, write_csv

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Drain = Callable[[str], list[dict[str, Any]]]
Tool = Callable[..., Ran]


@pytest.fixture
def _no_configured_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an operator's laptop without a default region: the queue URL must name it."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")


@pytest.mark.usefixtures("_no_configured_region")
def test_send_takes_the_region_from_the_queue_url_and_exits_0(
    tmp_path: Path, make_queue: Callable[[str], str], drain: Drain, tool: Tool
) -> None:
    # Given an AWS queue URL (region us-east-1) and no region configured anywhere
    queue = make_queue("cancel")
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,ext-1001\n1002,ext-1002\n")

    # When the file is sent
    ran = tool("send", str(path), "--queue-url", queue)

    # Then both lines reached the queue
    assert ran.status == 0
    assert len(drain(queue)) == 2
    assert "summary: 2 sent, 0 failed to send, 0 maybe sent, 0 not yet sent" in ran.out


def test_send_refuses_a_bad_file_with_exit_status_1(
    tmp_path: Path, make_queue: Callable[[str], str], drain: Drain, tool: Tool
) -> None:
    queue = make_queue("cancel")
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,\n")

    ran = tool("send", str(path), "--queue-url", queue)

    assert ran.status == 1
    assert drain(queue) == []


def test_send_dry_run_needs_no_queue_and_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: Tool
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,ext-1001\n")

    ran = tool("send", str(path), "--dry-run")

    assert (ran.status, ran.err) == (0, "")
    assert "summary (dry run): 1 to send, 0 sent" in ran.out


def test_send_with_endpoint_url_reaches_that_endpoint(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a queue on a local AWS (moto's server), reached only through --endpoint-url
    queue = local_aws.queue()
    path = write_csv(tmp_path, cancels(12))

    # When the file is sent there
    ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then every line is one message on that queue
    assert ran.status == 0, ran.err
    assert sorted(body["cashout_id"] for body in local_aws.bodies(queue)) == list(range(5000, 5012))


def test_replay_with_endpoint_url_reads_and_sends_there_to_a_queue_and_to_a_bus(
    local_aws: LocalAws, tool: Tool
) -> None:
    # Given a failure in a local failure queue, and a local bus whose rule feeds a queue
    sqs, events = local_aws.client("sqs"), local_aws.client("events")
    failures, cancel_queue, observed = local_aws.queue(), local_aws.queue(), local_aws.queue()
    bus = f"bus-{Path(observed).name}"
    events.create_event_bus(Name=bus)
    events.put_rule(
        Name="cancel-requested",
        EventBusName=bus,
        EventPattern=json.dumps({"detail-type": ["Cashout Cancel Requested"]}),
    )
    arn = sqs.get_queue_attributes(QueueUrl=observed, AttributeNames=["QueueArn"])
    target = {"Id": "observer", "Arn": arn["Attributes"]["QueueArn"]}
    events.put_targets(Rule="cancel-requested", EventBusName=bus, Targets=[target])
    body, _ = failure_message("lambda-destination-retries-exhausted")

    # When it is replayed to the cancel queue, then again (sent anew) to the bus
    sqs.send_message(QueueUrl=failures, MessageBody=body)
    to_queue = tool(
        "replay", "--from-queue", failures, "--to-queue", cancel_queue, *local_aws.options
    )
    sqs.send_message(QueueUrl=failures, MessageBody=body)
    to_bus = tool("replay", "--from-queue", failures, "--to-bus", bus, *local_aws.options)

    # Then the cancel queue and the bus's rule each saw the request, and the failures are gone
    assert (to_queue.status, to_bus.status) == (0, 0), to_queue.err + to_bus.err
    assert local_aws.bodies(cancel_queue) == [{"cashout_id": 1001, "external_id": "ext-1001"}]
    (event,) = local_aws.bodies(observed)
    assert event["detail"] == {"cashout_id": 1001, "external_id": "ext-1001"}
    assert local_aws.bodies(failures) == []


@pytest.mark.slow
def test_replay_from_the_command_line_moves_the_failure_to_the_cancel_queue(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain, tool: Tool
) -> None:
    failures, cancel_queue = make_queue("failures"), make_queue("cancels")
    body, _ = failure_message("lambda-destination-retries-exhausted")
    sqs.send_message(QueueUrl=failures, MessageBody=body)

    ran = tool("replay", "--from-queue", failures, "--to-queue", cancel_queue)

    assert ran.status == 0
    assert [json.loads(m["Body"]) for m in drain(cancel_queue)] == [
        {"cashout_id": 1001, "external_id": "ext-1001"}
    ]
    assert drain(failures) == []


def test_a_region_is_read_from_every_shape_of_sqs_queue_url() -> None:
    assert region_of_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q") == "eu-west-1"
    assert region_of_queue_url("https://ap-south-1.queue.amazonaws.com/123456789012/q") == (
        "ap-south-1"
    )
    assert region_of_queue_url("https://sqs.cn-north-1.amazonaws.com.cn/1/q") == "cn-north-1"
    assert region_of_queue_url("http://localhost:4566/000000000000/q") is None
