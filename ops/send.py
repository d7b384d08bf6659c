"""`python -m ops send`: a checked CSV file of cancels onto the cancel queue, each line once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from ops.batches import Delivery, Entry, deliver
from ops.csv_file import CheckedFile, Line, check_file
from ops.messages import cancel_json
from ops.sqs import send_batch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_LISTED = 20  # line numbers listed per problem in the summary; the count says the rest


def run_send(
    path: Path,
    queue_url: str | None,
    client: Callable[[], SQSClient],
    *,
    dry_run: bool,
    out: TextIO,
    progress: bool = True,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Check `path`, then send its lines unless refused or `dry_run`; 0 when all went well.

    `client` is called only when something is to be sent, so a dry run needs no credentials.
    """
    checked = check_file(path)
    if checked.refused:
        _print_refusal(checked, out)
        return 1
    if dry_run:
        _print_check(checked, out, "dry run: nothing sent")
        return 0
    if queue_url is None:
        raise ValueError("a queue URL is needed unless dry_run")
    entries = [_entry(line) for line in checked.lines]
    # tqdm writes to stderr, so the summary on stdout stays readable when piped.
    with tqdm(total=len(entries), unit="line", desc="sending", disable=not progress) as bar:
        delivery = deliver(
            entries, send_batch(client(), queue_url), on_sent=bar.update, sleep=sleep
        )
    _print_delivery(checked, delivery, out)
    return 0 if len(delivery.sent) == len(entries) else 1


def _entry(line: Line) -> Entry:
    # Batch entry ids name the line, so every report can point back into the file.
    return Entry(id=f"line-{line.number}", body=cancel_json(line.request))


def _print_refusal(checked: CheckedFile, out: TextIO) -> None:
    if not checked.bad:
        print("refused: the file has no line to send", file=out)
        return
    print(f"refused: {len(checked.bad)} invalid line(s); nothing was sent", file=out)
    for bad in checked.bad:
        print(f"  {bad}", file=out)
    print(f"summary: 0 sent, {len(checked.bad)} refused, 0 failed to send", file=out)


def _print_check(checked: CheckedFile, out: TextIO, verdict: str) -> None:
    print(f"{len(checked.lines)} line(s) valid; {verdict}", file=out)
    _print_repeats(checked, out)
    print(f"summary: 0 sent, 0 refused, 0 failed to send ({len(checked.lines)} ready)", file=out)


def _print_repeats(checked: CheckedFile, out: TextIO) -> None:
    if checked.repeats:
        pairs = [f"{line} (= line {first})" for line, first in checked.repeats.items()]
        print(f"skipped {len(pairs)} repeated line(s): {_listed(pairs)}", file=out)


def _print_delivery(checked: CheckedFile, delivery: Delivery, out: TextIO) -> None:
    _print_repeats(checked, out)
    failed = {**delivery.failed, **dict.fromkeys(delivery.not_tried, "not tried: the run stopped")}
    for reason in sorted(set(failed.values())):
        lines = _line_numbers(key for key, why in failed.items() if why == reason)
        print(f"not sent ({reason}): lines {_listed(lines)}", file=out)
    if delivery.unknown:
        lines = _line_numbers(delivery.unknown)
        reason = next(iter(delivery.unknown.values()))
        print(
            f"maybe sent ({reason}); SQS did not confirm lines {_listed(lines)}."
            " Sending them again is harmless: a second cancel answers ALREADY_CANCELLED.",
            file=out,
        )
    not_sent = len(failed) + len(delivery.unknown)
    print(f"summary: {len(delivery.sent)} sent, 0 refused, {not_sent} failed to send", file=out)


def _line_numbers(entry_ids: Iterable[str]) -> list[str]:
    """Line numbers of batch entry ids ("line-12"), in file order."""
    return [str(n) for n in sorted(int(key.removeprefix("line-")) for key in entry_ids)]


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown if len(items) <= MAX_LISTED else f"{shown} and {len(items) - MAX_LISTED} more"
