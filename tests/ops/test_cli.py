"""`python -m ops` end to end: credentials and region the AWS CLI's way, exit statuses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ops.aws import region_of_queue_url
from ops.cli import main
from tests.ops.conftest import failure_message, write_csv

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Drain = Callable[[str], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def _no_configured_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on an operator's laptop without a default region: the queue URL must name it."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")


def test_send_takes_the_region_from_the_queue_url_and_exits_0(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Drain,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue = make_queue("cancel")
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,ext-1001\n1002,ext-1002\n")

    status = main(["send", str(path), "--queue-url", queue])

    assert status == 0
    assert len(drain(queue)) == 2
    assert "summary: 2 sent, 0 refused, 0 failed to send" in capsys.readouterr().out


def test_send_refuses_a_bad_file_with_a_non_zero_status(
    tmp_path: Path, make_queue: Callable[[str], str], drain: Drain
) -> None:
    queue = make_queue("cancel")
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,\n")

    assert main(["send", str(path), "--queue-url", queue]) == 1
    assert drain(queue) == []


def test_send_dry_run_needs_no_queue_and_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,ext-1001\n")

    assert main(["send", str(path), "--dry-run"]) == 0


@pytest.mark.slow
def test_replay_from_the_command_line_moves_the_failure_to_the_cancel_queue(
    sqs: SQSClient, make_queue: Callable[[str], str], drain: Drain
) -> None:
    failures, cancels = make_queue("failures"), make_queue("cancels")
    body, _ = failure_message("lambda-destination-retries-exhausted")
    sqs.send_message(QueueUrl=failures, MessageBody=body)

    status = main(["replay", "--from-queue", failures, "--to-queue", cancels])

    assert status == 0
    assert [json.loads(m["Body"]) for m in drain(cancels)] == [
        {"cashout_id": 1001, "external_id": "ext-1001"}
    ]
    assert drain(failures) == []


def test_commands_without_a_destination_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path, "cashout_id,external_id\n1001,ext-1001\n")

    assert main(["send", str(path)]) == 2
    assert main(["replay", "--from-queue", "https://sqs.us-east-1.amazonaws.com/1/q"]) == 2
    assert "--to-queue or --to-bus is required" in capsys.readouterr().err


def test_the_region_is_read_from_an_sqs_queue_url() -> None:
    assert region_of_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q") == "eu-west-1"
    assert region_of_queue_url("http://localhost:4566/000000000000/q") is None
