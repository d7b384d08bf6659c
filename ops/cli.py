"""The command line of `python -m ops`: parse, build the AWS clients, run a command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ops import aws
from ops.batches import BatchCall
from ops.bus import put_batch
from ops.replay import run_replay
from ops.send import run_send
from ops.sqs import send_batch


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 when it did all it was asked to."""
    args = _parser().parse_args(argv)
    if args.command == "send":
        return _send(args)
    return _replay(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops", description="Operators' tools for cashout-cancel (docs/runbook.md)."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    send = commands.add_parser("send", help="send a CSV file of cancels to the cancel queue")
    send.add_argument("file", type=Path, help="CSV with the header cashout_id,external_id")
    send.add_argument("--queue-url", help="the stack's CancelQueueUrl output")
    send.add_argument("--dry-run", action="store_true", help="check the file, send nothing")
    _aws_options(send)

    replay = commands.add_parser("replay", help="re-send what waits in a failure queue")
    replay.add_argument(
        "--from-queue", required=True, help="FailureQueueUrl or CancelDeadLetterQueueUrl"
    )
    target = replay.add_mutually_exclusive_group()
    target.add_argument(
        "--to-queue", help="re-send as cancel messages to this queue (CancelQueueUrl)"
    )
    target.add_argument("--to-bus", help="re-send as 'Cashout Cancel Requested' events on this bus")
    replay.add_argument("--dry-run", action="store_true", help="read and report, change nothing")
    replay.add_argument("--limit", type=int, help="replay at most this many messages")
    _aws_options(replay)
    return parser


def _aws_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="AWS CLI profile (default: the usual credential chain)")
    parser.add_argument("--region", help="AWS region (default: the profile's, or the queue URL's)")


def _send(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.queue_url:
        print("send: --queue-url is required (or --dry-run)", file=sys.stderr)
        return 2
    session = aws.session(args.profile, args.region, args.queue_url)
    return run_send(
        args.file,
        args.queue_url,
        lambda: aws.sqs_client(session),
        dry_run=args.dry_run,
        out=sys.stdout,
    )


def _replay(args: argparse.Namespace) -> int:
    if not args.dry_run and not (args.to_queue or args.to_bus):
        print("replay: --to-queue or --to-bus is required (or --dry-run)", file=sys.stderr)
        return 2
    session = aws.session(args.profile, args.region, args.from_queue)
    send: BatchCall | None = None
    if args.dry_run:
        send = None
    elif args.to_queue:
        send = send_batch(aws.sqs_client(session), args.to_queue)
    else:
        send = put_batch(aws.events_client(session), args.to_bus)
    report = run_replay(
        aws.sqs_client(session), args.from_queue, send, out=sys.stdout, limit=args.limit
    )
    return 1 if report.left else 0
