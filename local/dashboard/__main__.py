"""`make dashboard`: the template's dashboard, drawn from a local run, into docs/dashboard.png.

python -m local.dashboard                      # synthetic traffic through the real handler
python -m local.dashboard --emf run.jsonl      # or any EMF log lines (e.g. exported from AWS)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cashout_cancel.observability import CALLER_DIMENSION
from local.dashboard import emf, render, traffic
from local.dashboard.widgets import Widget, template_widgets

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
TITLE = "cashout-cancel: the dashboard of template.yaml, drawn from a local run"
ABOUT_LOCAL = (
    "[measured locally]: Lambda Duration and Errors, API 4XX/5XX and latency, measured around"
    " each handler call in-process (no Lambda service, no API Gateway). AWS-only: throttles,"
    " concurrency, the queues' depth and age."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Draw the picture; 0 when it was written."""
    parser = argparse.ArgumentParser(prog="python -m local.dashboard", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    parser.add_argument("--emf", type=Path, help="draw these EMF lines instead of a local run")
    parser.add_argument("--save-emf", type=Path, help="also write the run's EMF lines here")
    parser.add_argument("--namespace", help="the function's metrics namespace (with --emf)")
    args = parser.parse_args(argv)

    if args.emf:
        documents = emf.documents(args.emf.read_text(encoding="utf-8").splitlines())
        namespace = args.namespace or _own_namespace(documents)
        notes = [f"{len(documents)} EMF documents from {args.emf.name}"]
    else:
        run = traffic.run()
        documents, namespace = run.documents, run.namespace
        notes = [_about(run), *run.notes, ABOUT_LOCAL]
    widgets = template_widgets(namespace)
    notes.extend(_gaps(widgets, documents, namespace))
    if args.save_emf:
        args.save_emf.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    render.draw(render.Picture(widgets, documents, TITLE, notes), args.out)
    print(f"wrote {args.out} ({len(documents)} EMF documents, namespace {namespace})")
    return 0


def _about(run: traffic.Traffic) -> str:
    return (
        f"{run.invocations} invocations of the real handler against the local D24 sandbox, their"
        f" EMF timestamps spread over {traffic.MINUTES} simulated minutes: D24 down at minutes"
        f" {traffic.OUTAGE[0] / 60:g}-{traffic.OUTAGE[1] / 60:g}, bulk batches at minutes"
        f" {traffic.BULK[0] / 60:g}-{traffic.BULK[1] / 60:g}, an IP D24 does not whitelist at"
        f" minute {traffic.AUTH[0] / 60:g}."
    )


def _gaps(widgets: list[Widget], documents: list[dict[str, Any]], namespace: str) -> list[str]:
    """What the dashboard asks of the function's metrics that this data never has."""
    points = [p for document in documents for p in emf.datapoints(document)]
    emitted = {p.metric for p in points if p.namespace == namespace}
    shown = {s.metric for w in widgets for s in w.series if s.namespace == namespace}
    notes = []
    if shown - emitted:
        notes.append(f"Never emitted in this run: {', '.join(sorted(shown - emitted))}.")
    if not any(name == CALLER_DIMENSION for p in points for name, _ in p.dimensions):
        notes.append(
            f"No metric carried the {CALLER_DIMENSION!r} dimension: per-caller panels are empty."
        )
    return notes


def _own_namespace(documents: list[dict[str, Any]]) -> str:
    """The one namespace of the documents that is not AWS's."""
    found: set[str] = {
        str(directive["Namespace"])
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        if not directive["Namespace"].startswith("AWS/")
    }
    if len(found) != 1:
        raise SystemExit(f"give --namespace: the lines hold {sorted(found) or 'none'}")
    return found.pop()


if __name__ == "__main__":
    sys.exit(main())
