"""The report's charts, drawn with matplotlib and inlined as SVG: a confidence histogram, a
per-batch line chart and a reliability diagram."""

from __future__ import annotations

import io
from html import escape

import matplotlib
from markupsafe import Markup
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Text stays text (searchable, small, no embedded glyphs); sized for a 360×200 px card.
STYLE = {
    "svg.fonttype": "none",
    "font.size": 8,
    "font.sans-serif": ["DejaVu Sans", "Arial"],
    "axes.spines.top": False,
    "axes.spines.right": False,
}
SIZE = (3.75, 2.1)  # inches: 360 × 200 CSS px, as SVG is written at 96 px per inch
THRESHOLD = "#d97706"


def _figure(title: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=SIZE, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    return fig, ax


def _inline(fig: Figure, title: str, kind: str, tips: list[tuple[Artist, str]]) -> Markup:
    """`fig` as an <svg> element for the page: no XML prologue, an accessible title, and a hover
    <title> on each artist in `tips` (matplotlib writes none itself). The figure is not kept
    anywhere (no pyplot), so it is freed with its last reference."""
    for i, (artist, _) in enumerate(tips):
        artist.set_gid(f"tip-{i}")
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    svg = buf.getvalue().split("<svg ", 1)[1]
    for i, (_, tip) in enumerate(tips):
        svg = svg.replace(f'<g id="tip-{i}">', f"<g><title>{escape(tip)}</title>", 1)
    attrs, body = svg.split(">", 1)
    return Markup(
        f'<svg class="chart {kind}" role="img" aria-label="{escape(title)}" {attrs}>'
        f"<title>{escape(title)}</title>{body}"
    )


def histogram_svg(counts: list[int], title: str, *, threshold: float | None = None) -> Markup:
    """Bars over [0, 1] with their counts on top, and the re-prompt threshold as a dashed line."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(title)
        width = 1 / len(counts)
        lows = [i * width for i in range(len(counts))]
        bars = ax.bar(lows, counts, width=width * 0.9, align="edge", color="#60a5fa")
        ax.bar_label(bars, [str(c) if c else "" for c in counts], padding=1, color="#6b7280")
        tips = [
            (bar, f"{low:.1f}–{low + width:.1f}: {n}") for bar, low, n in zip(bars, lows, counts)
        ]
        if threshold is not None:
            ax.axvline(threshold, color=THRESHOLD, linestyle="--", linewidth=1.2)
            ax.annotate(
                f"threshold {threshold:.2f}",
                (threshold, 1),
                xycoords=("data", "axes fraction"),
                xytext=(-3, -2),
                textcoords="offset points",
                ha="right",
                va="top",
                color=THRESHOLD,
            )
        ax.set(xlim=(0, 1), ylim=(0, max(max(counts), 1) * 1.15), xlabel="teacher confidence")
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1], ["0", "0.25", "0.5", "0.75", "1"])
        ax.yaxis.get_major_locator().set_params(integer=True)
        return _inline(fig, title, "histogram", tips)


def line_chart_svg(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    *,
    y_range: tuple[float, float] | None = None,
) -> Markup:
    """One line per series over the batch number, with a legend; y in `y_range` or the data's."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(title)
        tips = []
        for name, values in sorted(series.items()):
            xs, ys = zip(*sorted(values))
            (line,) = ax.plot(xs, ys, marker="o", ms=3, label=name, clip_on=False)
            tips.append((line, f"{name}: " + ", ".join(f"batch {x:g} {y:.4g}" for x, y in values)))
        ax.set_ylim(y_range or (min(0.0, ax.dataLim.y0), None))  # from 0 unless told
        ax.set_xlabel("batch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(frameon=False, fontsize=7)
        return _inline(fig, title, "line-chart", tips)


def reliability_svg(
    bins: list[dict], title: str, *, ece: float | None = None, auroc: float | None = None
) -> Markup:
    """A reliability diagram: each confidence bin's accuracy as a bar (answers on top), against
    the diagonal a calibrated teacher would follow."""
    notes = [
        f"ECE {ece:.3f}" if ece is not None else "",
        f"AUROC {auroc:.3f}" if auroc is not None else "",
    ]
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(" · ".join([title, *filter(None, notes)]))
        ax.plot([0, 1], [0, 1], color="#6b7280", linestyle="--", linewidth=0.8)
        bars = ax.bar(
            [b["lower"] for b in bins],
            [b["accuracy"] for b in bins],
            width=[(b["upper"] - b["lower"]) * 0.9 for b in bins],
            align="edge",
            color="#2563eb",
            alpha=0.7,
        )
        ax.bar_label(bars, [str(b["count"]) for b in bins], padding=1, color="#6b7280", fontsize=7)
        tips = [
            (
                bar,
                f"confidence {b['lower']:.1f}–{b['upper']:.1f}: {b['count']} answers, "
                f"accuracy {b['accuracy']:.2f}",
            )
            for bar, b in zip(bars, bins)
        ]
        ax.set(xlim=(0, 1), ylim=(0, 1.1), xlabel="confidence", ylabel="accuracy")
        return _inline(fig, title, "reliability", tips)
