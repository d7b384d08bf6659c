"""Interrupted sends are safe to resume: Ctrl-C and SIGTERM stop after the batch in flight and
print the summary so far; what SQS accepted is journaled, and the same command again sends only
the rest, never a line twice. Against moto's server, through --endpoint-url; the signals are real,
sent to the tool running in its own process."""

from __future__ import annotations

import hashlib
import os
import select
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

from ops.journal import Journal
from tests.ops.conftest import REGION, LocalAws, Ran, cancels, write_csv
from tests.ops.sqs_front import SqsFront, sqs_front

ROOT = Path(__file__).resolve().parents[2]
Tool = Callable[..., Ran]
LINES = 120  # twelve batches
FIRST = 7000


def sent_ids(local_aws: LocalAws, queue: str) -> Counter[int]:
    """How many times each cashout reached the queue."""
    return Counter(body["cashout_id"] for body in local_aws.bodies(queue))


def test_the_same_command_after_aws_stopped_a_send_sends_only_the_rest(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a send that SQS throttled for good after two batches
    queue, path = local_aws.queue(), write_csv(tmp_path, cancels(45, FIRST))
    with sqs_front(local_aws.endpoint) as front:
        command = ("send", str(path), "--queue-url", queue, "--endpoint-url", front.url)
        front.throttle_after = 2
        stopped = tool(*command, "--region", REGION)

        # When the same command runs again, once SQS takes sends again
        front.throttle_after = None
        resumed = tool(*command, "--region", REGION)

    # Then the first run said how far it got and how to go on, the second sent only the rest,
    # and every line reached the queue once
    assert stopped.status == 2
    assert stopped.err.endswith(
        "until the tool gave up; 20 of 45 lines are accepted, and the same command again sends"
        " the other 25\n"
    )
    assert "summary: 20 sent, 10 failed to send, 0 maybe sent, 15 not yet sent" in stopped.out
    assert resumed.status == 0, resumed.err
    assert (
        "resuming: 20 of 45 lines were already accepted in an earlier run; sending the other 25"
        " (--restart sends every line again)" in resumed.out
    )
    assert (
        "summary: 25 sent, 0 failed to send, 0 maybe sent, 0 not yet sent (20 sent in an earlier"
        " run)" in resumed.out
    )
    assert sent_ids(local_aws, queue) == Counter(range(FIRST, FIRST + 45))


def test_a_finished_send_run_again_sends_nothing_and_restart_sends_all_again(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    queue, path = local_aws.queue(), write_csv(tmp_path, cancels(12, FIRST))
    command = ("send", str(path), "--queue-url", queue, *local_aws.options)
    first = tool(*command)

    again = tool(*command)
    restarted = tool(*command, "--restart")

    assert (first.status, again.status, restarted.status) == (0, 0, 0)
    assert (
        "resuming: 12 of 12 lines were already accepted in an earlier run; nothing left to send"
        in again.out
    )
    assert "summary: 0 sent, 0 failed to send, 0 maybe sent, 0 not yet sent (12 sent in an" in (
        again.out
    )
    assert (
        "restart: 12 lines accepted in an earlier run are forgotten; every line is sent again"
        in (restarted.out)
    )
    assert sent_ids(local_aws, queue) == Counter(dict.fromkeys(range(FIRST, FIRST + 12), 2))


def test_the_journal_belongs_to_one_file_content_and_one_queue(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a file sent to one queue
    queue, other_queue = local_aws.queue(), local_aws.queue()
    path = write_csv(tmp_path, cancels(3, FIRST))
    tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # When it is sent to another queue, and, changed, to the first again
    to_other = tool("send", str(path), "--queue-url", other_queue, *local_aws.options)
    write_csv(tmp_path, cancels(4, FIRST))
    changed = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then neither is taken for a resumption
    assert "resuming" not in to_other.out + changed.out
    assert sent_ids(local_aws, other_queue) == Counter(range(FIRST, FIRST + 3))
    assert sent_ids(local_aws, queue) == Counter(
        {**dict.fromkeys(range(FIRST, FIRST + 3), 2), FIRST + 3: 1}
    )


def test_a_dry_run_says_what_a_send_would_resume(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    queue, path = local_aws.queue(), write_csv(tmp_path, cancels(25, FIRST))
    with sqs_front(local_aws.endpoint) as front:
        front.throttle_after = 1
        tool(
            "send", str(path), "--queue-url", queue, "--endpoint-url", front.url, "--region", REGION
        )

    ran = tool("send", str(path), "--queue-url", queue, "--dry-run")

    assert ran.status == 0
    assert "a send to this queue would resume: 10 of 25 lines were already accepted" in ran.out
    assert "summary (dry run): 15 to send, 0 sent" in ran.out


def test_two_sends_of_the_same_file_to_the_same_queue_cannot_run_at_once(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a send of the file running (its journal open and locked)
    queue, path = local_aws.queue(), write_csv(tmp_path, cancels(3, FIRST))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with Journal.open(tmp_path, digest, queue, restart=False) as running:
        # When a second one starts
        ran = tool("send", str(path), "--queue-url", queue, *local_aws.options)

    # Then it refuses, and sends nothing
    assert (ran.status, ran.err) == (
        2,
        f"cashout-ops send: error: another send of this file to this queue is running (its"
        f" journal {running.path} is locked): let it finish, or stop it first\n",
    )
    assert local_aws.bodies(queue) == []


def test_a_journal_line_torn_by_a_crash_recorded_nothing(tmp_path: Path) -> None:
    # Given a journal whose last record was cut short by a crash
    with Journal.open(tmp_path, "digest", "queue", restart=False) as journal:
        journal.record([2, 3])
    with journal.path.open("a", encoding="utf-8") as handle:
        handle.write('{"accepted": [4, 5')

    # When it is opened again, and a new batch recorded
    with Journal.open(tmp_path, "digest", "queue", restart=False) as reopened:
        earlier = set(reopened.earlier)
        reopened.record([4, 5])

    # Then the torn record counted for nothing, and the journal reads whole afterwards
    assert earlier == {2, 3}
    with Journal.open(tmp_path, "digest", "queue", restart=False) as last:
        assert last.earlier == {2, 3, 4, 5}


# --- Real signals, to the tool in its own process ----------------------------------------------


def start_tool(*argv: str) -> subprocess.Popen[str]:
    """`cashout-ops ARGV` in a process of its own, with this test's environment."""
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; from ops.cli import main; sys.exit(main())", *argv],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(stream: IO[str] | None, timeout: float = 20) -> str:
    """The next line of a child's pipe, failing the test rather than hanging on it."""
    assert stream is not None
    assert select.select([stream], [], [], timeout)[0], "no line in time"
    return stream.readline()


def interrupted_send(
    front: SqsFront, command: list[str], signals: list[signal.Signals]
) -> tuple[int, str, str]:
    """The send stopped by `signals` while its fourth batch is in flight; then released."""
    front.hold_batch = 4
    tool = start_tool(*command)
    assert front.held.wait(timeout=20), "the fourth batch never came"
    notices: list[str] = []
    for number in signals:
        tool.send_signal(number)
        if not notices:  # the first signal is answered with a notice before the next is sent
            notices.append(read_line(tool.stderr))
    if len(signals) > 1:  # stopped at once: the tool is gone before SQS answers
        tool.wait(timeout=20)
    front.release.set()
    out, err = tool.communicate(timeout=20)
    return tool.returncode, out, "".join(notices) + err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("number", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_mid_send_stops_after_the_batch_in_flight_and_the_same_command_resumes(
    tmp_path: Path, local_aws: LocalAws, tool: Tool, number: signal.Signals, status: int
) -> None:
    # Given a send of twelve batches, signalled while its fourth is in flight
    queue, path = local_aws.queue(), write_csv(tmp_path, cancels(LINES, FIRST))
    with sqs_front(local_aws.endpoint) as front:
        command = ["send", str(path), "--queue-url", queue, "--endpoint-url", front.url]
        code, out, err = interrupted_send(front, [*command, "--region", REGION], [number])

        # When the same command runs again (in this process: the code is the same)
        again = tool(*command, "--region", REGION)

    # Then the first run finished the batch in flight, said what it sent, and exited 128+signal
    assert code == status
    assert err == (
        f"{number.name}: stopping after the call in flight (again to stop at once)\n"
        f"cashout-ops send: interrupted by {number.name}\n"
    )
    assert "not sent yet (interrupted): lines 42, 43, 44" in out
    assert out.endswith("summary: 40 sent, 0 failed to send, 0 maybe sent, 80 not yet sent\n")
    # and the second sent only the rest: no accepted line was sent twice
    assert again.status == 0, again.err
    assert (
        f"resuming: 40 of {LINES} lines were already accepted in an earlier run; sending the"
        " other 80" in again.out
    )
    assert sent_ids(local_aws, queue) == Counter(range(FIRST, FIRST + LINES))


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once_and_names_the_lines_that_may_have_gone(
    tmp_path: Path, local_aws: LocalAws, tool: Tool
) -> None:
    # Given a send interrupted twice while its fourth batch is in flight, which SQS then takes
    queue, path = local_aws.queue(), write_csv(tmp_path, cancels(LINES, FIRST))
    with sqs_front(local_aws.endpoint) as front:
        command = ["send", str(path), "--queue-url", queue, "--endpoint-url", front.url]
        code, out, err = interrupted_send(
            front, [*command, "--region", REGION], [signal.SIGINT, signal.SIGINT]
        )
        assert front.held_passed.wait(timeout=20)

        # When the same command runs again
        again = tool(*command, "--region", REGION)

    # Then the first run stopped without its answer, named that batch's lines as maybe sent,
    # and the second sent them again (harmless: a second cancel answers ALREADY_CANCELLED)
    assert (code, again.status) == (130, 0)
    assert err.endswith("cashout-ops send: interrupted by SIGINT\n")
    assert "maybe sent (interrupted while AWS was answering); SQS did not confirm lines 32," in out
    assert "summary: 30 sent, 0 failed to send, 10 maybe sent, 80 not yet sent" in out
    maybe_sent = range(FIRST + 30, FIRST + 40)
    assert sent_ids(local_aws, queue) == Counter(range(FIRST, FIRST + LINES)) + Counter(maybe_sent)
