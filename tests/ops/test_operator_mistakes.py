"""Every operator mistake is one line on stderr and exit status 2, never a traceback: the file,
the command line, the login, the region, the queue or bus, access, and throttling that outlasts
the retries. Each case runs the command line against moto's server (--endpoint-url) and shows
the exact line."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from moto.core.authorization import enable_iam_authentication

from tests.ops.conftest import LocalAws, Ran, cancels, write_csv
from tests.ops.sqs_front import sqs_front

Tool = Callable[..., Ran]
SEND = "cashout-ops send: error: "
REPLAY = "cashout-ops replay: error: "
UTF8_HINT = 'save it as UTF-8 (in Excel: "CSV UTF-8 (Comma delimited)") and send that file'


def one_line(ran: Ran) -> str:
    """The one line the run printed on stderr (it fails if there were more, or none)."""
    lines = ran.err.splitlines()
    assert len(lines) == 1, ran.err
    return lines[0]


# --- The file ----------------------------------------------------------------------------------


def test_a_missing_path_is_named_in_one_line(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given no file at the path
    missing = tmp_path / "cancels.csv"

    # When it is sent
    ran = tool("send", str(missing), "--queue-url", local_aws.queue(), *local_aws.options)

    # Then one line says so, and the status is 2
    assert (ran.status, one_line(ran)) == (2, f"{SEND}{missing}: no such file")


def test_a_directory_is_refused_in_one_line(tmp_path: Path, tool: Tool) -> None:
    ran = tool("send", str(tmp_path), "--dry-run")

    assert (ran.status, one_line(ran)) == (2, f"{SEND}{tmp_path}: is a directory, not a CSV file")


def test_a_spreadsheets_utf16_file_is_refused_saying_how_to_save_it(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a file saved as "Unicode Text" (UTF-16 with its byte order mark)
    path = tmp_path / "cancels.csv"
    path.write_text(cancels(3), encoding="utf-16")
    queue = local_aws.queue()

    # When it is sent
    ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then it says what it found and how to save the file, and nothing was sent
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}{path}: the file is UTF-16 (it starts with a UTF-16 byte order mark), not UTF-8:"
        f" {UTF8_HINT}",
    )
    assert local_aws.bodies(queue) == []


def test_a_utf16_file_without_its_byte_order_mark_is_refused_too(
    tmp_path: Path, tool: Tool
) -> None:
    path = tmp_path / "cancels.csv"
    path.write_bytes(cancels(1).encode("utf-16-le"))

    ran = tool("send", str(path), "--dry-run")

    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}{path}: the file holds NUL bytes (line 1): it is not UTF-8 text, perhaps UTF-16;"
        f" {UTF8_HINT}",
    )


def test_a_windows_1252_file_is_refused_saying_where_and_how_to_save_it(
    tmp_path: Path, tool: Tool
) -> None:
    path = tmp_path / "cancels.csv"
    path.write_bytes("cashout_id,external_id\n1001,caf\u00e9-1001\n".encode("cp1252"))

    ran = tool("send", str(path), "--dry-run")

    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}{path}: the file is not UTF-8 (byte 0xe9 on line 2, as Windows-1252 or Latin-1"
        f" would write a non-ASCII letter); {UTF8_HINT}",
    )


@pytest.mark.parametrize("mark", [b"", b"\xef\xbb\xbf"], ids=["utf-8", "utf-8-with-bom"])
def test_utf8_with_or_without_a_byte_order_mark_is_sent(
    tmp_path: Path, local_aws: LocalAws, tool: Tool, mark: bytes
) -> None:
    path = tmp_path / "cancels.csv"
    path.write_bytes(mark + "cashout_id,external_id\r\n1001,caf\u00e9-1001\r\n".encode())
    queue = local_aws.queue()

    ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    assert (ran.status, ran.err) == (0, "")
    assert local_aws.bodies(queue) == [{"cashout_id": 1001, "external_id": "caf\u00e9-1001"}]


# --- The command line --------------------------------------------------------------------------


def test_a_missing_option_is_one_line_not_a_usage_block(tool: Tool) -> None:
    ran = tool("replay", "--to-queue", "https://sqs.us-east-1.amazonaws.com/1/q")

    assert (ran.status, one_line(ran)) == (
        2,
        "cashout-ops replay: error: the following arguments are required: --from-queue"
        " (--help for usage)",
    )


def test_a_queue_arn_where_the_url_belongs_says_what_a_url_is(tmp_path: Path, tool: Tool) -> None:
    path = write_csv(tmp_path, cancels(1))

    ran = tool("send", str(path), "--queue-url", "arn:aws:sqs:us-east-1:123456789012:cancel")

    assert (ran.status, one_line(ran)) == (
        2,
        "cashout-ops send: error: argument --queue-url: 'arn:aws:sqs:us-east-1:123456789012:cancel'"
        " is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>: the stack's"
        " *QueueUrl outputs) (--help for usage)",
    )


def test_no_destination_is_one_line_for_either_command(tmp_path: Path, tool: Tool) -> None:
    path = write_csv(tmp_path, cancels(1))

    sent = tool("send", str(path))
    replayed = tool("replay", "--from-queue", "https://sqs.us-east-1.amazonaws.com/1/q")

    assert (sent.status, one_line(sent)) == (2, f"{SEND}--queue-url is required (or --dry-run)")
    assert (replayed.status, one_line(replayed)) == (
        2,
        f"{REPLAY}--to-queue or --to-bus is required (or --dry-run)",
    )


# --- The login, the profile and the region -----------------------------------------------------


def test_no_credentials_says_how_to_log_in_and_sends_nothing(
    tmp_path: Path, local_aws: LocalAws, tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no credentials anywhere (no environment, no AWS CLI files, no instance role)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    queue = local_aws.queue()
    path = write_csv(tmp_path, cancels(3))

    # When a file is sent
    ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then one line says how to log in, and nothing was sent
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}no AWS credentials found: log in as you would for the AWS CLI (aws sso login,"
        " aws configure), or give --profile",
    )
    assert local_aws.bodies(queue) == []


def test_an_unknown_profile_is_named(tmp_path: Path, local_aws: LocalAws, tool: Tool) -> None:
    path = write_csv(tmp_path, cancels(1))

    ran = tool(
        "send", str(path), "--queue-url", local_aws.queue(), "--profile", "prod", *local_aws.options
    )

    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}unknown AWS profile 'prod' (aws configure list-profiles lists the known ones)",
    )


def test_a_region_aws_does_not_have_or_the_queue_url_contradicts_is_refused(
    tmp_path: Path, tool: Tool, local_aws: LocalAws
) -> None:
    path = write_csv(tmp_path, cancels(1))
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/cancel"

    ran = tool("replay", "--from-queue", queue, "--dry-run", "--region", "us-eest-1")

    assert (ran.status, one_line(ran)) == (
        2,
        f"{REPLAY}--region us-eest-1 differs from the queue URL's region, us-east-1",
    )
    ran = tool("send", str(path), "--queue-url", local_aws.queue(), "--region", "us-eest-1")
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}unknown AWS region 'us-eest-1' (from --region, AWS_DEFAULT_REGION or the profile)",
    )


def test_no_region_asks_for_one(tmp_path: Path, local_aws: LocalAws, tool: Tool) -> None:
    # Given a queue URL that names no region (a local one), and no region configured
    path = write_csv(tmp_path, cancels(1))

    ran = tool(
        "send", str(path), "--queue-url", local_aws.queue(), "--endpoint-url", local_aws.endpoint
    )

    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}no AWS region: give --region (the queue URL names none)",
    )


# --- What AWS refuses --------------------------------------------------------------------------


def test_a_queue_that_does_not_exist_is_named_and_nothing_is_sent(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a queue URL with a typo
    queue = local_aws.queue() + "x"
    path = write_csv(tmp_path, cancels(3))

    # When the file is sent
    ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then one line names the queue, and the summary says nothing was sent
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}the queue {queue} does not exist (check it, and the region, against the stack's"
        " outputs)",
    )
    assert "summary: 0 sent, 3 failed to send, 0 maybe sent, 0 not yet sent" in ran.out


def test_replaying_from_a_queue_that_does_not_exist_names_it(
    local_aws: LocalAws, tool: Tool
) -> None:
    queue = local_aws.queue() + "x"

    ran = tool("replay", "--from-queue", queue, "--dry-run", *local_aws.options)

    assert (ran.status, one_line(ran)) == (
        2,
        f"{REPLAY}the queue {queue} does not exist (check it, and the region, against the"
        " stack's outputs)",
    )


def test_replaying_to_a_bus_that_does_not_exist_names_it_and_keeps_the_failure(
    local_aws: LocalAws, tool: Tool
) -> None:
    # Given a failure waiting, and a bus name with a typo
    failures = local_aws.queue()
    detail = {"cashout_id": 1001, "external_id": "ext-1001"}
    local_aws.client("sqs").send_message(QueueUrl=failures, MessageBody=json.dumps(detail))

    # When it is replayed to that bus
    ran = tool("replay", "--from-queue", failures, "--to-bus", "payouts-typo", *local_aws.options)

    # Then one line names the bus, and the failure is still in its queue
    assert (ran.status, one_line(ran)) == (
        2,
        f"{REPLAY}the event bus payouts-typo does not exist (check it, and the region, against"
        " the stack's outputs)",
    )
    assert local_aws.bodies(failures) == [detail]


def test_access_denied_names_the_permission_missing(
    tmp_path: Path, local_aws: LocalAws, tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator whose role may read the queue but not send to it
    iam = local_aws.client("iam")
    iam.create_user(UserName="operator")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="operator", PolicyName="read", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    queue = local_aws.queue()
    path = write_csv(tmp_path, cancels(3))

    # When the file is sent, with IAM enforced
    with enable_iam_authentication():
        ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then one line says which permission is missing
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}access denied on the queue {queue}: User: arn:aws:iam::123456789012:user/operator"
        " is not authorized to perform: sqs:SendMessageBatch",
    )
    assert local_aws.bodies(queue) == []


def test_credentials_aws_does_not_know_say_to_log_in_again(
    tmp_path: Path, local_aws: LocalAws, tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOLDKEYREVOKED000")
    queue = local_aws.queue()
    path = write_csv(tmp_path, cancels(3))

    with enable_iam_authentication():
        ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}AWS refused the credentials (InvalidClientTokenId: The security token included in"
        " the request is invalid.): log in as you would for the AWS CLI (aws sso login, aws"
        " configure), or give --profile",
    )


def test_an_endpoint_that_cannot_be_reached_is_named_after_the_retries(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given nothing listening where the calls go (a VPN down, a wrong --endpoint-url)
    path = write_csv(tmp_path, cancels(3))
    with socket.socket() as probe:  # a port just free, so closed
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    # When the file is sent there
    ran = tool(
        "send",
        str(path),
        "--queue-url",
        local_aws.queue(),
        "--endpoint-url",
        closed,
        "--region",
        "us-east-1",
    )

    # Then, after the retries, one line names the endpoint
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}could not connect to {closed}/: check the network and the region",
    )
    assert "summary: 0 sent, 3 failed to send, 0 maybe sent, 0 not yet sent" in ran.out


def test_throttling_that_outlasts_the_retries_is_one_line_and_nothing_is_sent(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given an SQS that throttles every send
    queue = local_aws.queue()
    path = write_csv(tmp_path, cancels(25))

    # When the file is sent
    with sqs_front(local_aws.endpoint) as front:
        front.throttle_after = 0
        ran = tool(
            "send",
            str(path),
            "--queue-url",
            queue,
            "--endpoint-url",
            front.url,
            "--region",
            "us-east-1",
        )

    # Then, after the retries, one line says so; nothing was sent
    assert (ran.status, one_line(ran)) == (
        2,
        f"{SEND}AWS throttled the calls on the queue {queue} (RequestThrottled) until the tool"
        " gave up",
    )
    assert front.batch_calls == 5  # MAX_ATTEMPTS of the first batch, and no other batch
    assert "summary: 0 sent, 10 failed to send, 0 maybe sent, 15 not yet sent" in ran.out
    assert local_aws.bodies(queue) == []
