"""`cashout-ops send`: a checked CSV file of cancels onto the cancel queue, each line once, also
across interruptions: what SQS accepted is journaled batch by batch (ops/journal.py), and the
same command run again sends only the rest."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from ops.batches import Delivery, Entry, deliver
from ops.csv_file import CheckedFile, Line, check_file
from ops.errors import OperatorError, explain
from ops.journal import Journal, accepted_before
from ops.merchant import MAX_MERCHANT_LENGTH
from ops.messages import cancel_json
from ops.sqs import send_batch
from ops.why import MAX_CASHOUT_ID_DIGITS, MAX_EXTERNAL_ID_LENGTH

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_LISTED = 20  # bad lines, or line numbers per problem, listed; a count says the rest
RULES = (
    f"cashout_id: digits only, 1 to 2^63-1 (at most {MAX_CASHOUT_ID_DIGITS} digits), no sign,"
    f" space or leading zero; external_id: 1 to {MAX_EXTERNAL_ID_LENGTH} characters; merchant"
    f" (optional): empty, or 1 to {MAX_MERCHANT_LENGTH} of a-z, 0-9 and '-', starting with a"
    " letter or digit"
)


def run_send(
    path: Path,
    queue_url: str | None,
    client: Callable[[], SQSClient],
    *,
    dry_run: bool,
    out: TextIO,
    progress: bool = True,
    sleep: Callable[[float], object] = time.sleep,
    restart: bool = False,
    state_dir: Path | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Check `path`, then send the lines no earlier run sent, unless refused or `dry_run`.

    0 when every line is sent, 1 when the file is refused or a line was not; an OperatorError
    when the file cannot be read or AWS stopped the run. `client` is called only when something
    is to be sent, so that a dry run needs no credentials. The journal is kept in `state_dir`,
    by default the file's own folder; `restart` forgets it.
    """
    checked = check_file(path)
    if checked.refused:
        _print_refusal(checked, out)
        return 1
    directory = state_dir or path.parent
    if dry_run:
        _print_dry_run(checked, directory, None if restart else queue_url, out)
        return 0
    if queue_url is None:
        raise ValueError("a queue URL is needed unless dry_run")
    sqs = client()
    with Journal.open(directory, checked.digest, queue_url, restart=restart) as journal:
        todo = [line for line in checked.lines if line.number not in journal.earlier]
        _print_start(checked, journal, len(todo), queue_url, out)
        entries = [_entry(line) for line in todo]
        # tqdm writes to stderr, and only on a terminal: piped, stdout is the summary alone.
        with tqdm(
            total=len(entries), unit="line", desc="sending", disable=None if progress else True
        ) as bar:

            def accepted(entry_ids: list[str]) -> None:
                journal.record(_line_numbers(entry_ids))
                bar.update(len(entry_ids))

            delivery = deliver(
                entries,
                send_batch(sqs, queue_url),
                on_taken=accepted,
                should_stop=should_stop,
                sleep=sleep,
            )
    _print_delivery(delivery, len(journal.earlier), out)
    if delivery.stopped_by is not None:
        why = explain(delivery.stopped_by, f"the queue {queue_url}")
        raise OperatorError(_with_resume_hint(why, delivery, checked, journal))
    return 0 if len(delivery.sent) == len(entries) else 1


def _entry(line: Line) -> Entry:
    # Batch entry ids name the line, so every report can point back into the file.
    return Entry(id=f"line-{line.number}", body=cancel_json(line.request, line.merchant))


def _print_refusal(checked: CheckedFile, out: TextIO) -> None:
    if not checked.bad:
        print("refused: the file has no line to send", file=out)
        print("summary: 0 sent, 0 refused", file=out)
        return
    print(f"refused: {len(checked.bad)} bad line(s); nothing was sent", file=out)
    for bad in checked.bad[:MAX_LISTED]:
        print(f"  {bad}", file=out)
    if len(checked.bad) > MAX_LISTED:
        print(f"  ... and {len(checked.bad) - MAX_LISTED} more bad lines", file=out)
    print(f"rules: {RULES}", file=out)
    print(f"summary: 0 sent, {len(checked.bad)} refused", file=out)


def _print_dry_run(
    checked: CheckedFile, directory: Path, queue_url: str | None, out: TextIO
) -> None:
    print(f"{len(checked.lines)} line(s) valid; dry run: nothing sent", file=out)
    _print_repeats(checked, out)
    # Given the queue (and not --restart), what an earlier send of the file accepted there.
    earlier = accepted_before(directory, checked.digest, queue_url) if queue_url else set()
    if earlier:
        print(
            f"a send to this queue would resume: {len(earlier)} of {len(checked.lines)} lines"
            " were already accepted in an earlier run",
            file=out,
        )
    print(f"summary (dry run): {len(checked.lines) - len(earlier)} to send, 0 sent", file=out)


def _print_start(
    checked: CheckedFile, journal: Journal, todo: int, queue_url: str, out: TextIO
) -> None:
    _print_repeats(checked, out)
    if journal.set_aside:
        print(
            f"restart: {journal.set_aside} lines accepted in an earlier run are forgotten;"
            " every line is sent again",
            file=out,
        )
    if journal.earlier:
        rest = f"sending the other {todo}" if todo else "nothing left to send"
        print(
            f"resuming: {len(journal.earlier)} of {len(checked.lines)} lines were already"
            f" accepted in an earlier run; {rest} (--restart sends every line again)",
            file=out,
        )
    if todo:
        print(f"sending {todo} line(s) to {queue_url} (journal: {journal.path})", file=out)


def _print_repeats(checked: CheckedFile, out: TextIO) -> None:
    if checked.repeats:
        pairs = [f"{line} (= line {first})" for line, first in checked.repeats.items()]
        print(f"skipped {len(pairs)} repeated line(s): {_listed(pairs)}", file=out)


def _print_delivery(delivery: Delivery, earlier: int, out: TextIO) -> None:
    for reason in sorted(set(delivery.failed.values())):
        lines = _numbers(key for key, why in delivery.failed.items() if why == reason)
        print(f"not sent ({reason}): lines {_listed(lines)}", file=out)
    if delivery.unknown:
        lines = _numbers(delivery.unknown)
        reason = next(iter(delivery.unknown.values()))
        print(
            f"maybe sent ({reason}); SQS did not confirm lines {_listed(lines)}. The same"
            " command again sends them again, which is harmless: a second cancel answers"
            " ALREADY_CANCELLED.",
            file=out,
        )
    if delivery.not_tried:
        why = "interrupted" if delivery.interrupted else "the run stopped"
        print(f"not sent yet ({why}): lines {_listed(_numbers(delivery.not_tried))}", file=out)
    summary = (
        f"summary: {len(delivery.sent)} sent, {len(delivery.failed)} failed to send,"
        f" {len(delivery.unknown)} maybe sent, {len(delivery.not_tried)} not yet sent"
    )
    print(summary + (f" ({earlier} sent in an earlier run)" if earlier else ""), file=out)


def _with_resume_hint(why: str, delivery: Delivery, checked: CheckedFile, journal: Journal) -> str:
    """The error that stopped the run, and how to go on once it is fixed."""
    accepted = len(journal.earlier) + len(delivery.sent)
    if not accepted:
        return why
    return (
        f"{why}; {accepted} of {len(checked.lines)} lines are accepted, and the same command"
        f" again sends the other {len(checked.lines) - accepted}"
    )


def _line_numbers(entry_ids: Iterable[str]) -> list[int]:
    """Line numbers of batch entry ids ("line-12"), in file order."""
    return sorted(int(key.removeprefix("line-")) for key in entry_ids)


def _numbers(entry_ids: Iterable[str]) -> list[str]:
    return [str(number) for number in _line_numbers(entry_ids)]


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown if len(items) <= MAX_LISTED else f"{shown} and {len(items) - MAX_LISTED} more"
