"""Numbers behind the report: cost and latency per agent, confidence histograms, student metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from dualchecker.events import Event
from dualchecker.trace.report import RunReport


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) with linear interpolation, as numpy's default; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class CostRow:
    """Calls of one agent and kind: how many, tokens in and out, and seconds per call."""

    agent: str
    kind: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: list[float] = field(default_factory=list)

    @property
    def total_seconds(self) -> float | None:
        return sum(self.seconds) if self.seconds else None

    @property
    def p50(self) -> float | None:
        return percentile(self.seconds, 0.5)

    @property
    def p95(self) -> float | None:
        return percentile(self.seconds, 0.95)

    def add(self, event: Event) -> None:
        self.calls += 1
        if event.usage is not None:
            self.input_tokens += event.usage.input_tokens
            self.output_tokens += event.usage.output_tokens
        if event.seconds is not None:
            self.seconds.append(event.seconds)


def _call_kind(event: Event) -> str:
    if event.agent == "teacher" and event.kind == "answer":
        return "answer (re-prompt)" if event.data.get("reprompt") else "answer (first)"
    return event.kind


def cost_rows(events: Iterable[Event]) -> list[CostRow]:
    """One row per (agent, kind) of the events that cost something (tokens or time), then a total."""
    rows: dict[tuple[str, str], CostRow] = {}
    total = CostRow(agent="all", kind="")
    for event in events:
        if event.usage is None and event.seconds is None:
            continue
        key = (event.agent, _call_kind(event))
        rows.setdefault(key, CostRow(*key)).add(event)
        total.add(event)
    return [*rows.values(), total] if rows else []


def histogram(values: Iterable[float | None], bins: int = 10) -> list[int]:
    """Counts of values in `bins` equal bins over [0, 1] (1.0 falls in the last bin)."""
    counts = [0] * bins
    for value in values:
        if value is not None:
            counts[min(int(value * bins), bins - 1) if value >= 0 else 0] += 1
    return counts


def confidence_histograms(report: RunReport) -> dict[str, list[int]]:
    """Teacher confidence of every record's first answer, and of its final answer."""
    records = list(report.records.values())
    return {"first answer": histogram(r.first_confidence for r in records),
            "final answer (after re-prompting)": histogram(r.final_confidence for r in records)}


def _numbers(data: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a dict, nested keys joined with dots (one level of nesting is plenty)."""
    found: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            found[prefix + key] = float(value)
        elif isinstance(value, dict) and not prefix:
            found.update(_numbers(value, f"{key}."))
    return found


def student_metrics(report: RunReport) -> list[tuple[int, dict[str, float]]]:
    """(batch, metrics) for every student 'batch_trained' event, in order; metrics may nest."""
    rows = []
    for event in report.select("student", "batch_trained"):
        metrics = _numbers(event.data)
        metrics.pop("batch", None)
        batch = event.batch if event.batch is not None else len(rows)
        rows.append((batch, metrics))
    return rows


def metric_series(rows: list[tuple[int, dict[str, float]]], match: str) -> dict[str, list[tuple[float, float]]]:
    """The metrics whose last name part contains `match` (e.g. 'f1'), each as (batch, value) points."""
    series: dict[str, list[tuple[float, float]]] = {}
    for batch, metrics in rows:
        for name, value in metrics.items():
            if match in name.rsplit(".", 1)[-1].lower():
                series.setdefault(name, []).append((batch, value))
    return series
