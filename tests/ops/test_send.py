"""`cashout-ops send`: a checked file goes to the queue in batches of 10, each line once; a bad
file sends nothing; what SQS refuses is resent, a bounded number of times."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from ops.errors import OperatorError
from ops.send import run_send
from tests.ops.conftest import write_csv

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

HEADER = "cashout_id,external_id\n"


def _lines(count: int, first: int = 5000) -> str:
    return HEADER + "".join(f"{first + i},ext-{first + i}\n" for i in range(count))


class RecordingSqs:
    """The real (moto) client, with SendMessageBatch recorded and, for chosen entries, failed.

    `fail` maps an entry id to how many times SQS should report it failed before taking it, and
    whether SQS blames the sender; `raise_once` makes the next whole call raise instead.
    """

    def __init__(self, sqs: SQSClient) -> None:
        self.sqs = sqs
        self.fail: dict[str, tuple[int, bool]] = {}
        self.raise_once: Exception | None = None
        self.calls: list[list[str]] = []  # the entry ids of each call that reached SQS
        self.taken: Counter[str] = Counter()

    def client(self) -> Any:
        """A stand-in exposing send_message_batch; run_send uses nothing else."""
        return self

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        if self.raise_once is not None:
            exc, self.raise_once = self.raise_once, None
            raise exc
        entries = kwargs["Entries"]
        self.calls.append([entry["Id"] for entry in entries])
        failing = [e for e in entries if self.fail.get(e["Id"], (0, False))[0] > 0]
        passing = [e for e in entries if e not in failing]
        answer: dict[str, Any] = {"Successful": [], "Failed": []}
        if passing:
            answer = dict(self.sqs.send_message_batch(QueueUrl=kwargs["QueueUrl"], Entries=passing))
            answer.setdefault("Failed", [])
            self.taken.update(e["Id"] for e in passing)
        for entry in failing:
            times, sender_fault = self.fail[entry["Id"]]
            self.fail[entry["Id"]] = (times - 1, sender_fault)
            answer["Failed"].append(
                {"Id": entry["Id"], "SenderFault": sender_fault, "Code": "InternalError"}
            )
        return answer


@pytest.fixture
def recording(sqs: SQSClient) -> RecordingSqs:
    return RecordingSqs(sqs)


def _send(
    path: Path, queue_url: str, client: Callable[[], Any], dry_run: bool = False
) -> tuple[int, str]:
    out = io.StringIO()
    # Backoff sleeps are real waits in production; here they are skipped.
    try:
        status = run_send(
            path, queue_url, client, dry_run=dry_run, out=out, progress=False, sleep=lambda _: None
        )
    except OperatorError as error:  # as the command line prints it, on stderr
        status = 2
        print(f"error: {error}", file=out)
    return status, out.getvalue()


def test_every_line_is_sent_once_as_the_direct_object_in_batches_of_ten(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
    recording: RecordingSqs,
) -> None:
    # Given a valid file of 23 lines and an empty cancel queue
    queue = make_queue("cancel")
    path = write_csv(tmp_path, _lines(23))

    # When it is sent
    status, out = _send(path, queue, recording.client)

    # Then each line is one message, its body the direct object with an integer cashout_id
    bodies = [json.loads(m["Body"]) for m in drain(queue)]
    assert sorted(b["cashout_id"] for b in bodies) == list(range(5000, 5023))
    assert all(
        b == {"cashout_id": b["cashout_id"], "external_id": f"ext-{b['cashout_id']}"}
        for b in bodies
    )
    assert [len(call) for call in recording.calls] == [10, 10, 3]
    assert status == 0
    assert "summary: 23 sent, 0 failed to send, 0 maybe sent, 0 not yet sent" in out


def test_a_file_with_bad_lines_is_refused_whole_and_nothing_is_sent(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
) -> None:
    queue = make_queue("cancel")
    path = write_csv(tmp_path, HEADER + "1001,ext-1001\nabc,ext-1002\n1003,\n")
    clients_made: list[int] = []

    status, out = _send(path, queue, lambda: clients_made.append(1))

    assert status == 1
    assert drain(queue) == []
    assert clients_made == []  # not even a client: the file never got that far
    assert "line 3: cashout_id 'abc': not a number: has letters or other characters" in out
    assert "line 4: external_id '': empty" in out
    assert "summary: 0 sent, 2 refused" in out


def test_dry_run_checks_the_file_and_sends_nothing(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
) -> None:
    queue = make_queue("cancel")
    clients_made: list[int] = []

    status, out = _send(
        write_csv(tmp_path, _lines(12)), queue, lambda: clients_made.append(1), True
    )

    assert status == 0
    assert drain(queue) == []
    assert clients_made == []
    assert "12 line(s) valid; dry run: nothing sent" in out


def test_entries_sqs_reports_failed_are_resent_and_no_line_is_sent_twice(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
    recording: RecordingSqs,
) -> None:
    # Given SQS refuses three entries of the first batch once, and one of them twice
    queue = make_queue("cancel")
    recording.fail = {"line-3": (1, False), "line-7": (2, False), "line-11": (1, False)}

    # When the file is sent
    status, out = _send(write_csv(tmp_path, _lines(15)), queue, recording.client)

    # Then they were resent until taken, and every line reached the queue exactly once
    assert status == 0
    assert recording.calls[1] == ["line-3", "line-7", "line-11"]
    assert recording.calls[2] == ["line-7"]
    assert set(recording.taken.values()) == {1}
    bodies = [json.loads(m["Body"])["cashout_id"] for m in drain(queue)]
    assert sorted(bodies) == list(range(5000, 5015))
    assert "summary: 15 sent, 0 failed to send, 0 maybe sent, 0 not yet sent" in out


def test_resending_is_bounded_and_what_never_went_is_reported_by_line(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
    recording: RecordingSqs,
) -> None:
    queue = make_queue("cancel")
    recording.fail = {"line-4": (99, False), "line-5": (1, True)}  # SenderFault: never resent

    status, out = _send(write_csv(tmp_path, _lines(5)), queue, recording.client)

    assert status == 1
    assert len(drain(queue)) == 3
    assert sum(call.count("line-4") for call in recording.calls) == 5  # MAX_ATTEMPTS
    assert sum(call.count("line-5") for call in recording.calls) == 1
    assert "not sent (InternalError): lines 4, 5" in out
    assert "summary: 3 sent, 2 failed to send, 0 maybe sent, 0 not yet sent" in out


def test_a_throttled_call_is_tried_again_but_a_lost_answer_is_never_resent(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
    recording: RecordingSqs,
) -> None:
    queue = make_queue("cancel")
    refusal: Any = {
        "Error": {"Code": "RequestThrottled"},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    throttled = ClientError(refusal, "SendMessageBatch")
    recording.raise_once = throttled
    status, _ = _send(write_csv(tmp_path, _lines(3), "a.csv"), queue, recording.client)
    assert status == 0
    assert len(drain(queue)) == 3

    # A read timeout: SQS may hold the batch, so it is reported, not resent, and the run stops
    recording.raise_once = ReadTimeoutError(endpoint_url="https://sqs")
    status, out = _send(write_csv(tmp_path, _lines(12), "b.csv"), queue, recording.client)

    assert status == 2
    assert drain(queue) == []
    assert recording.calls[-1] == ["line-2", "line-3", "line-4"]  # the last call is of run a
    assert "maybe sent (ReadTimeoutError); SQS did not confirm lines 2, 3, 4, 5, 6, 7, 8" in out
    assert "not sent yet (the run stopped): lines 12, 13" in out
    assert "summary: 0 sent, 0 failed to send, 10 maybe sent, 2 not yet sent" in out
    assert (
        "error: the answer from https://sqs was lost (ReadTimeoutError): what was in flight may"
        " have been taken"
    ) in out


def test_a_repeated_line_is_sent_once(
    tmp_path: Path,
    make_queue: Callable[[str], str],
    drain: Callable[[str], list[dict[str, Any]]],
    recording: RecordingSqs,
) -> None:
    queue = make_queue("cancel")
    path = write_csv(tmp_path, HEADER + "1001,ext-1001\n1001,ext-1001\n")

    status, out = _send(path, queue, recording.client)

    assert status == 0
    assert len(drain(queue)) == 1
    assert "skipped 1 repeated line(s): 3 (= line 2)" in out
