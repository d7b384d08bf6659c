"""The journal of a send: which lines of a file SQS accepted for a queue, so that the same
command, run again after an interruption, sends only the rest.

One small file per file content and queue URL (both hashed into its name), beside the CSV or in
`--state-dir`: a header line, then one JSON line per accepted batch, appended and fsynced before
the next batch is sent. Only what SQS confirmed is recorded; a torn last line (a crash while
writing) is ignored, and its lines are sent again, which is harmless (a second cancel answers
ALREADY_CANCELLED). The file is locked while a send runs, so that two sends of the same file to
the same queue cannot interleave.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from ops.errors import OperatorError

_FORMAT = 1


def journal_path(directory: Path, digest: str, queue_url: str) -> Path:
    """Where the journal of sending the file with SHA-256 `digest` to `queue_url` is kept."""
    key = hashlib.sha256(f"{digest}\n{queue_url}".encode()).hexdigest()[:16]
    return directory / f"cashout-ops-{key}.journal"


def accepted_before(directory: Path, digest: str, queue_url: str) -> set[int]:
    """The line numbers an earlier send recorded as accepted (read only: for a dry run)."""
    path = journal_path(directory, digest, queue_url)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return set()
    return _accepted(path, _complete(text), _header(digest, queue_url)) or set()


class Journal:
    """An open, locked journal: what earlier runs recorded, and `record` for this one's."""

    def __init__(self, path: Path, handle: TextIO, earlier: set[int], set_aside: int) -> None:
        self.path = path
        self.earlier = earlier  # accepted in earlier runs, and still counted
        self.set_aside = set_aside  # accepted in earlier runs, forgotten by --restart
        self._handle = handle
        self._recorded = False

    @classmethod
    def open(cls, directory: Path, digest: str, queue_url: str, *, restart: bool) -> Journal:
        """Open (or create) the journal and lock it; `restart` forgets what it holds."""
        path = journal_path(directory, digest, queue_url)
        created = not path.exists()
        try:
            handle = path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise OperatorError(
                f"cannot write the journal {path} ({exc.strerror}): give --state-dir, a folder"
                " you can write"
            ) from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise OperatorError(
                f"another send of this file to this queue is running (its journal {path} is"
                " locked): let it finish, or stop it first"
            ) from None
        header = _header(digest, queue_url)
        handle.seek(0)
        text = handle.read()
        try:
            earlier = _accepted(path, _complete(text), header)
        except OperatorError:
            if not restart:
                handle.close()
                raise
            earlier = None  # damaged, and about to be started over
        kept = set() if restart or earlier is None else earlier
        journal = cls(path, handle, kept, len(earlier or ()) - len(kept))
        if restart or earlier is None:  # a new journal, or one whose header never got written
            journal._rewrite(json.dumps(header) + "\n")
        elif _complete(text) != text:  # drop the torn line, so that appends start a line
            journal._rewrite(_complete(text))
        if created:
            _sync_directory(directory)
        return journal

    def record(self, line_numbers: Iterable[int]) -> None:
        """Append the lines SQS accepted in one call, durably, before anything else is sent."""
        numbers = sorted(line_numbers)
        if numbers:
            self._append({"accepted": numbers})
            self._recorded = True

    def _append(self, record: dict[str, object]) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _rewrite(self, text: str) -> None:
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(text)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file, which releases its lock; a journal of nothing is not kept."""
        if not self.earlier and not self._recorded:
            self.path.unlink(missing_ok=True)
        self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _header(digest: str, queue_url: str) -> dict[str, object]:
    return {"journal": _FORMAT, "file_sha256": digest, "queue_url": queue_url}


def _accepted(path: Path, text: str, header: dict[str, object]) -> set[int] | None:
    """The line numbers recorded in a journal's `text`, checked to be this file's and queue's;
    None when it holds no whole header yet."""
    try:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise OperatorError(f"the journal {path} is damaged: delete it or give --restart") from None
    if not records:
        return None
    if records[0] != header:
        raise OperatorError(
            f"the journal {path} is of another file or queue: delete it, or give --restart"
        )
    return {number for record in records[1:] for number in record.get("accepted", [])}


def _complete(text: str) -> str:
    """A journal's text up to its last whole line: a line torn by a crash while it was written
    recorded nothing, and its batch is sent again."""
    return text[: text.rfind("\n") + 1]


def _sync_directory(directory: Path) -> None:
    """Make a new file's name in `directory` durable, not only its content."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
