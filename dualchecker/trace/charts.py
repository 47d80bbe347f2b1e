"""Small inline-SVG charts: a confidence histogram, a per-batch line chart and a reliability
diagram."""

from __future__ import annotations

from markupsafe import Markup

from dualchecker.trace.svg import element, svg, text

WIDTH, HEIGHT = 360, 200
LEFT, RIGHT, TOP, BOTTOM = 36, 12, 26, 34
COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"]


def _frame(title: str, top: float = TOP) -> list[str]:
    plot_bottom = HEIGHT - BOTTOM
    return [
        text(LEFT, 16, title, class_="chart-title"),
        element("line", x1=LEFT, y1=plot_bottom, x2=WIDTH - RIGHT, y2=plot_bottom, class_="axis"),
        element("line", x1=LEFT, y1=top, x2=LEFT, y2=plot_bottom, class_="axis"),
    ]


def histogram_svg(counts: list[int], title: str, *, threshold: float | None = None) -> Markup:
    """Bars over [0, 1] with their counts on top, and the re-prompt threshold as a dashed line."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max(counts) or 1
    bar_w = plot_w / len(counts)
    body = _frame(title)
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x, y = LEFT + i * bar_w, HEIGHT - BOTTOM - h
        low, high = i / len(counts), (i + 1) / len(counts)
        body.append(
            element(
                "rect",
                element("title", f"{low:.1f}–{high:.1f}: {count}"),
                x=x + 1,
                y=y,
                width=bar_w - 2,
                height=h,
                class_="bar",
            )
        )
        if count:
            body.append(
                text(x + bar_w / 2, y - 3, str(count), class_="bar-count", text_anchor="middle")
            )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(
            text(
                LEFT + tick * plot_w,
                HEIGHT - BOTTOM + 14,
                f"{tick:g}",
                class_="tick",
                text_anchor="middle",
            )
        )
    body.append(
        text(
            LEFT + plot_w / 2,
            HEIGHT - 4,
            "teacher confidence",
            class_="axis-label",
            text_anchor="middle",
        )
    )
    if threshold is not None:
        x = LEFT + threshold * plot_w
        body.append(element("line", x1=x, y1=TOP - 4, x2=x, y2=HEIGHT - BOTTOM, class_="threshold"))
        body.append(
            text(
                x - 3,
                TOP + 6,
                f"threshold {threshold:g}",
                class_="threshold-label",
                text_anchor="end",
            )
        )
    return svg(WIDTH, HEIGHT, body, label=title, class_="chart histogram")


def line_chart_svg(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    *,
    y_range: tuple[float, float] | None = None,
) -> Markup:
    """One polyline per series over the batch number, with a legend; y in `y_range` or the data's."""
    points = [p for values in series.values() for p in values]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = y_range or (min(0.0, min(ys)), max(ys) or 1.0)
    top = TOP + 13 * len(series)  # the legend sits under the title, above the plot
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - top - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        fx = (x - x0) / (x1 - x0) if x1 > x0 else 0.5
        fy = (y - y0) / (y1 - y0) if y1 > y0 else 0.5
        return LEFT + fx * plot_w, HEIGHT - BOTTOM - fy * plot_h

    body = _frame(title, top)
    for value in (y0, (y0 + y1) / 2, y1):
        body.append(
            text(LEFT - 4, at(x0, value)[1] + 4, f"{value:.2g}", class_="tick", text_anchor="end")
        )
    for batch in sorted(set(xs)) if len(set(xs)) <= 12 else (x0, x1):
        body.append(
            text(
                at(batch, y0)[0],
                HEIGHT - BOTTOM + 14,
                f"{batch:g}",
                class_="tick",
                text_anchor="middle",
            )
        )
    body.append(
        text(LEFT + plot_w / 2, HEIGHT - 4, "batch", class_="axis-label", text_anchor="middle")
    )
    for i, (name, values) in enumerate(sorted(series.items())):
        colour = COLOURS[i % len(COLOURS)]
        coords = [at(x, y) for x, y in sorted(values)]
        body.append(
            element(
                "polyline",
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
                class_="series",
                stroke=colour,
                data_series=name,
            )
        )
        for (x, y), (bx, by) in zip(coords, sorted(values)):
            body.append(
                element(
                    "circle",
                    element("title", f"{name} batch {bx:g}: {by:.4g}"),
                    cx=x,
                    cy=y,
                    r=3,
                    fill=colour,
                )
            )
        body.append(
            element(
                "line",
                x1=LEFT + 4,
                y1=26 + 13 * i,
                x2=LEFT + 20,
                y2=26 + 13 * i,
                stroke=colour,
                stroke_width=2,
            )
        )
        body.append(text(LEFT + 24, 30 + 13 * i, name, class_="legend"))
    return svg(WIDTH, HEIGHT, body, label=title, class_="chart line-chart")


def reliability_svg(
    bins: list[dict], title: str, *, ece: float | None = None, auroc: float | None = None
) -> Markup:
    """A reliability diagram: accuracy against confidence per bin (dot area = answers), with the
    diagonal a calibrated teacher would follow."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def at(x: float, y: float) -> tuple[float, float]:
        return LEFT + x * plot_w, HEIGHT - BOTTOM - y * plot_h

    notes = [
        f"ECE {ece:.3f}" if ece is not None else "",
        f"AUROC {auroc:.3f}" if auroc is not None else "",
    ]
    body = _frame(" · ".join([title, *[n for n in notes if n]]))
    (x0, y0), (x1, y1) = at(0, 0), at(1, 1)
    body.append(element("line", x1=x0, y1=y0, x2=x1, y2=y1, class_="diagonal"))
    most = max((b["count"] for b in bins), default=1) or 1
    for b in bins:
        x, y = at(b["confidence"], b["accuracy"])
        radius = 2 + 6 * (b["count"] / most) ** 0.5
        body.append(
            element(
                "circle",
                element(
                    "title",
                    f"confidence {b['lower']:.1f}–{b['upper']:.1f}: {b['count']} answers, "
                    f"accuracy {b['accuracy']:.2f}",
                ),
                cx=x,
                cy=y,
                r=radius,
                class_="bin",
            )
        )
    for tick in (0.0, 0.5, 1.0):
        body.append(
            text(
                at(tick, 0)[0],
                HEIGHT - BOTTOM + 14,
                f"{tick:g}",
                class_="tick",
                text_anchor="middle",
            )
        )
        body.append(
            text(LEFT - 4, at(0, tick)[1] + 4, f"{tick:g}", class_="tick", text_anchor="end")
        )
    body.append(
        text(
            LEFT + plot_w / 2,
            HEIGHT - 4,
            "confidence → accuracy",
            class_="axis-label",
            text_anchor="middle",
        )
    )
    return svg(WIDTH, HEIGHT, body, label=title, class_="chart reliability")
