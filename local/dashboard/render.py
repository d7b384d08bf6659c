"""Draw the template's dashboard widgets from EMF documents into a PNG, one panel per widget,
where the widget sits on CloudWatch's 24-column grid, each line its metric's statistic per
period. A panel with no data says why: AWS-only (nothing local measures it) or none this run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display needed

# The backend is chosen before pyplot is imported (ruff's isort keeps this order).
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from local.dashboard import emf
from local.dashboard.widgets import Widget

GRID_COLUMNS = 24
INCHES_PER_COLUMN = 0.8
INCHES_PER_ROW = 0.5
MARGIN = 0.012  # figure fraction around the grid
HEADER_INCHES, FOOTER_INCHES = 0.6, 1.0
# Inside a widget's cell, in inches: room for the title above and the tick labels around.
PAD_TOP, PAD_BOTTOM, PAD_LEFT, PAD_RIGHT = 0.28, 0.3, 0.5, 0.1


@dataclass(frozen=True)
class Picture:
    """What to draw: the widgets, the EMF documents, and lines for the title and footer."""

    widgets: Sequence[Widget]
    documents: Sequence[dict[str, Any]]
    title: str
    notes: Sequence[str] = ()


def draw(picture: Picture, out: Path) -> None:
    """Render `picture` into the PNG file `out`."""
    points = [p for document in picture.documents for p in emf.datapoints(document)]
    start = min((p.timestamp_ms for p in points), default=0)
    end = max((p.timestamp_ms for p in points), default=start)
    rows = max(w.y + w.height for w in picture.widgets)
    width = GRID_COLUMNS * INCHES_PER_COLUMN
    height = rows * INCHES_PER_ROW + HEADER_INCHES + FOOTER_INCHES
    figure = plt.figure(figsize=(width, height))
    figure.suptitle(picture.title, x=MARGIN, ha="left", fontsize=13, fontweight="bold")
    for widget in picture.widgets:
        axes = figure.add_axes(_rectangle(widget, width, height))
        if widget.kind == "text":
            _text(axes, widget)
        elif widget.kind == "log":
            _query(axes, widget)
        else:
            _metric(axes, widget, points, start, end)
    figure.text(MARGIN, 0.004, "\n".join(picture.notes), fontsize=8, va="bottom", color="#444")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)


def _rectangle(widget: Widget, width: float, height: float) -> tuple[float, float, float, float]:
    """The axes' [left, bottom, width, height] in figure fractions."""
    column, row = (1 - 2 * MARGIN) / GRID_COLUMNS, INCHES_PER_ROW / height
    grid_top = 1 - HEADER_INCHES / height
    left = MARGIN + widget.x * column + PAD_LEFT / width
    top = grid_top - widget.y * row - PAD_TOP / height
    bottom = grid_top - (widget.y + widget.height) * row + PAD_BOTTOM / height
    return (left, bottom, widget.width * column - (PAD_LEFT + PAD_RIGHT) / width, top - bottom)


def _text(axes: Axes, widget: Widget) -> None:
    axes.axis("off")
    text = "\n".join(line.lstrip("# ") for line in widget.markdown.splitlines())
    axes.text(0, 1, text, va="top", fontsize=9, wrap=True)


def _query(axes: Axes, widget: Widget) -> None:
    """A Logs Insights widget: its query is shown, not run (there are no logs in the picture)."""
    axes.axis("off")
    axes.set_title(widget.title + "  [Logs Insights, not run locally]", fontsize=9, loc="left")
    axes.text(0, 1, widget.query.replace(" | ", "\n| "), va="top", fontsize=8, family="monospace")


def _metric(axes: Axes, widget: Widget, points: list[emf.Datapoint], start: int, end: int) -> None:
    lines = [(s, emf.series_values(points, s, widget.period)) for s in widget.series]
    drawn = [(s, values) for s, values in lines if values]
    local = any(s.namespace.startswith("AWS/") for s, _ in drawn)
    axes.set_title(widget.title + ("  [measured locally]" if local else ""), fontsize=9, loc="left")
    axes.tick_params(labelsize=7)
    axes.set_xlim(0, max((end - start) / 60_000, 1))
    axes.set_xlabel("minutes into the run", fontsize=7, labelpad=1)
    if not drawn:
        _empty(axes, widget)
        return
    if widget.stacked:
        _stacked(axes, drawn, start, widget.period)
    else:
        for series, values in drawn:
            xs = [(t - start) / 60_000 for t, _ in values]
            axes.plot(
                xs,
                [v for _, v in values],
                marker=".",
                markersize=3,
                linewidth=1.2,
                label=series.label,
            )
    for label, value in widget.horizontal_annotations:
        axes.axhline(value, linestyle="--", linewidth=1, color="#d62728")
        axes.annotate(
            label,
            (0, value),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=6,
            color="#d62728",
        )
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=6, loc="upper right", ncol=2 if len(drawn) > 4 else 1, framealpha=0.7)


def _stacked(
    axes: Axes, drawn: list[tuple[Any, list[tuple[int, float]]]], start: int, period: int
) -> None:
    """Stacked areas over a common time grid; a period without a value counts as 0."""
    period_ms = period * 1000
    last = max(t for _, values in drawn for t, _ in values)
    grid = list(range(start // period_ms * period_ms, last + period_ms, period_ms))
    xs = [(t - start) / 60_000 for t in grid]
    stacks = [[dict(values).get(t, 0.0) for t in grid] for _, values in drawn]
    colors = [plt.get_cmap("tab20")(index % 20) for index in range(len(drawn))]
    axes.stackplot(xs, stacks, labels=[s.label for s, _ in drawn], colors=colors, alpha=0.85)


def _empty(axes: Axes, widget: Widget) -> None:
    aws_only = all(s.namespace.startswith("AWS/") for s in widget.series)
    message = (
        "AWS-only: nothing local measures these metrics"
        if aws_only
        else "no data in this run: the handler emitted none\n"
        "of these metrics under these dimensions"
    )
    axes.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        fontsize=8,
        color="#777",
        transform=axes.transAxes,
    )
    axes.set_yticks([])
