"""Operators' tools for cashout-cancel, run from the repository root, never deployed.

    python -m ops send FILE.csv --queue-url URL [--dry-run]
    python -m ops replay --from-queue URL (--to-queue URL | --to-bus NAME) [--dry-run]

`send` puts a CSV of bulk cancels on the cancel queue (CONTRACT section 9); `replay` moves what
waits in the failure queue or the bulk dead-letter queue back for another try (docs/runbook.md).
Both validate with the function's own `cashout_cancel.validation`, so what they accept is what
the function accepts.
"""

import sys
from pathlib import Path

# The function's package lives in src/: make's commands put it on PYTHONPATH; this does the same
# for a bare `python -m ops` from the repository root (appended, so PYTHONPATH still wins).
_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.append(_SRC)
