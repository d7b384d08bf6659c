"""The command line of `cashout-ops` (`make ops`, then `.venv-ops/bin/cashout-ops`): parse,
build the AWS clients, run a command; every operator mistake one line on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from ops import aws
from ops.batches import BatchCall
from ops.bus import put_batch
from ops.errors import EXIT_STATUS, OperatorError, explain
from ops.interrupt import StopSignals
from ops.replay import run_replay
from ops.send import run_send
from ops.sqs import send_batch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

PROG = "cashout-ops"
EPILOG = """\
Set up once from a clone of the repository: `make ops`; then run .venv-ops/bin/cashout-ops.
Credentials and region are the AWS CLI's (--profile, --region, or the usual environment); the
region defaults to the queue URL's. docs/runbook.md says when to use each command.

exit status: 0 done; 1 the file was refused, or some lines or messages did not go (the summary
names them); 2 the command could not run, or AWS stopped it (one line on stderr says why);
130 or 143 interrupted by Ctrl-C or SIGTERM (after the call in flight; a send run again resumes).
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (the usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_STATUS, f"{self.prog}: error: {message} (--help for usage)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 when it did all it was asked to."""
    parser = _parser()
    args = parser.parse_args(argv)
    command = f"{PROG} {args.command}"
    with StopSignals() as stop:
        try:
            status = _send(args, stop) if args.command == "send" else _replay(args, stop)
        except OperatorError as error:
            print(f"{command}: error: {error}", file=sys.stderr)
            status = EXIT_STATUS
        except (BotoCoreError, ClientError) as exc:  # what no command step foresaw
            print(f"{command}: error: {explain(exc, 'AWS')}", file=sys.stderr)
            status = EXIT_STATUS
        except KeyboardInterrupt:
            print(f"{command}: interrupted", file=sys.stderr)
            return stop.exit_status
    if stop():
        print(f"{command}: interrupted by {stop.name}", file=sys.stderr)
        return stop.exit_status
    return status


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="The operators' tool for cashout-cancel: bulk cancels and replays.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    send = commands.add_parser(
        "send",
        help="send a CSV file of cancels to the cancel queue",
        description="Check every line of a CSV file of cancels with the function's own\n"
        "validation, then send them to the cancel queue, each line once. A run that stops\n"
        "(Ctrl-C, an AWS error) is resumed by the same command: what SQS accepted is kept in a\n"
        "journal beside the file (or in --state-dir).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument(
        "file", type=Path, help="CSV, UTF-8, with the header cashout_id,external_id[,merchant]"
    )
    send.add_argument("--queue-url", type=_queue_url, help="the stack's CancelQueueUrl output")
    send.add_argument("--dry-run", action="store_true", help="check the file, send nothing")
    send.add_argument(
        "--restart", action="store_true", help="forget what an earlier run sent: send every line"
    )
    send.add_argument(
        "--state-dir",
        type=Path,
        help="where the journal of what was sent is kept (default: the file's folder)",
    )
    _aws_options(send)

    replay = commands.add_parser(
        "replay",
        help="re-send what waits in a failure queue",
        description="Move what waits in the failure queue or the bulk dead-letter queue back into\n"
        "the cancel queue or onto the bus, deleting each message once it was re-sent.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument(
        "--from-queue",
        required=True,
        type=_queue_url,
        help="FailureQueueUrl or CancelDeadLetterQueueUrl",
    )
    target = replay.add_mutually_exclusive_group()
    target.add_argument(
        "--to-queue", type=_queue_url, help="re-send as cancel messages to this queue"
    )
    target.add_argument(
        "--to-bus", help="re-send as 'Cashout Cancel Requested' events on this bus (name or ARN)"
    )
    replay.add_argument("--dry-run", action="store_true", help="read and report, change nothing")
    replay.add_argument("--limit", type=_positive, help="replay at most this many messages")
    _aws_options(replay)
    return parser


def _aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="AWS CLI profile (default: the usual credential chain)")
    parser.add_argument("--region", help="AWS region (default: the queue URL's, or the profile's)")
    parser.add_argument(
        "--endpoint-url",
        help="send SQS and EventBridge calls here instead of AWS (a rehearsal against a local"
        " moto server)",
    )


def _queue_url(text: str) -> str:
    if not text.startswith(("https://", "http://")):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>:"
            " the stack's *QueueUrl outputs)"
        )
    return text


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _send(args: argparse.Namespace, stop: StopSignals) -> int:
    if not args.dry_run and not args.queue_url:
        raise OperatorError("--queue-url is required (or --dry-run)")

    def client() -> SQSClient:
        session = aws.session(
            args.profile, args.region, args.queue_url, endpoint_url=args.endpoint_url
        )
        return aws.sqs_client(session, args.endpoint_url)

    return run_send(
        args.file,
        args.queue_url,
        client,
        dry_run=args.dry_run,
        out=sys.stdout,
        restart=args.restart,
        state_dir=args.state_dir,
        should_stop=stop,
    )


def _replay(args: argparse.Namespace, stop: StopSignals) -> int:
    if not args.dry_run and not (args.to_queue or args.to_bus):
        raise OperatorError("--to-queue or --to-bus is required (or --dry-run)")
    session = aws.session(
        args.profile, args.region, args.from_queue, args.to_queue, endpoint_url=args.endpoint_url
    )
    send: BatchCall | None = None
    destination = "the destination"
    if args.dry_run:
        send = None
    elif args.to_queue:
        send = send_batch(aws.sqs_client(session, args.endpoint_url), args.to_queue)
        destination = f"the queue {args.to_queue}"
    else:
        send = put_batch(aws.events_client(session, args.endpoint_url), args.to_bus)
        destination = f"the event bus {args.to_bus}"
    report = run_replay(
        aws.sqs_client(session, args.endpoint_url),
        args.from_queue,
        send,
        out=sys.stdout,
        limit=args.limit,
        destination=destination,
        should_stop=stop,
    )
    return 1 if report.left else 0
