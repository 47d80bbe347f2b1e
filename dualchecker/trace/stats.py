"""Numbers behind the report: cost and latency per agent, confidence histograms, student metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from dualchecker.events import Agent, Event
from dualchecker.trace.report import RunReport

AGENT_ORDER = list(get_args(Agent))
Answer = tuple[str | None, list[dict[str, Any]] | None]  # (label, spans)


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
    counted_tokens: bool = False
    cache_hits: int = 0

    @property
    def total_seconds(self) -> float | None:
        """Seconds spent on the timed calls (None when none was timed)."""
        return sum(self.seconds) if self.seconds else None

    @property
    def p50(self) -> float | None:
        """Median seconds per timed call."""
        return percentile(self.seconds, 0.5)

    @property
    def p95(self) -> float | None:
        """95th-percentile seconds per timed call."""
        return percentile(self.seconds, 0.95)

    def add(self, event: Event) -> None:
        """Count one event: a cache hit, or a call with its tokens and seconds."""
        if event.data.get("cached") is True:  # answered by the LLM cache: free, and not a call
            self.cache_hits += 1
            return
        self.calls += 1
        if event.usage is not None:
            self.counted_tokens = True
            self.input_tokens += event.usage.input_tokens
            self.output_tokens += event.usage.output_tokens
        seconds = event_seconds(event)
        if seconds is not None:
            self.seconds.append(seconds)


def event_seconds(event: Event) -> float | None:
    """How long the event's work took: its `seconds`, or a `seconds` number in its data."""
    if event.seconds is not None:
        return event.seconds
    value = event.data.get("seconds")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _call_kind(event: Event) -> str:
    if event.agent == "teacher" and event.kind == "answer":
        return "answer (re-prompt)" if event.data.get("reprompt") else "answer (first)"
    return event.kind


def cost_rows(events: Iterable[Event]) -> list[CostRow]:
    """One row per (agent, kind) of the events that cost something (tokens or time), then the
    total over LLM calls (the events that report token usage)."""
    rows: dict[tuple[str, str], CostRow] = {}
    total = CostRow(agent="all", kind="LLM calls")
    for event in events:
        if event.usage is None and event_seconds(event) is None:
            continue
        key = (event.agent, _call_kind(event))
        rows.setdefault(key, CostRow(*key)).add(event)
        if event.usage is not None:
            total.add(event)
    ordered = sorted(
        rows.values(),
        key=lambda r: (
            AGENT_ORDER.index(r.agent) if r.agent in AGENT_ORDER else len(AGENT_ORDER),
            r.kind,
        ),
    )
    return [*ordered, total] if ordered else []


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
    return {
        "first answer": histogram(r.first_confidence for r in records),
        "final answer (after re-prompting)": histogram(r.final_confidence for r in records),
    }


def numbers_in(data: dict, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a dict, nested keys joined with dots (one level of nesting is plenty)."""
    found: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            found[prefix + key] = float(value)
        elif isinstance(value, dict) and not prefix:
            found.update(numbers_in(value, f"{key}."))
    return found


ONLINE_F1 = "online F1 vs gold"  # predictions made before training on the batch
FIT_F1 = "F1 vs teacher"  # predictions after training on it, against the teacher's labels


def answer_f1(task: dict[str, Any], pairs: list[tuple[Answer, Answer]]) -> float | None:
    """The task's F1 over (reference, prediction) pairs of (label, spans), as the run scores it.

    Binary: positive-class F1; multiclass: macro-F1; spans: exact span F1. None without pairs.
    """
    from dualchecker.training.data import CharSpan
    from dualchecker.training.metrics import classification_scores, span_exact_f1

    if not pairs:
        return None
    if task.get("kind") == "spans":

        def chars(spans: list[dict] | None) -> list[CharSpan]:
            return [CharSpan(start=s["start"], end=s["end"], type=s["type"]) for s in spans or []]

        return span_exact_f1(
            [chars(ref[1]) for ref, _ in pairs], [chars(pred[1]) for _, pred in pairs]
        )["f1"]
    names = [label["name"] for label in task.get("labels", [])]
    ids = {name: i for i, name in enumerate(names)}
    scored = [(ids[ref[0]], ids.get(pred[0])) for ref, pred in pairs if ref[0] in ids]
    if not scored:
        return None
    kind = "binary" if task.get("kind") == "binary" else "multiclass"
    positive = ids.get(task.get("positive_label") or (names[1] if len(names) > 1 else ""), 1)
    return classification_scores(
        [g for g, _ in scored], [p for _, p in scored], kind, positive=positive
    )["f1"]


def _batch_scores(report: RunReport, predictions: list[dict[str, Any]]) -> dict[str, float]:
    """Online F1 against gold, and F1 against the teacher, of one batch's student predictions."""
    against_gold, against_teacher = [], []
    for prediction in predictions:
        record = report.records.get(str(prediction.get("record_id")))
        if record is None:
            continue
        if record.gold is not None:
            against_gold.append(
                (
                    (record.gold_label, record.gold_spans),
                    (prediction.get("before_label"), prediction.get("before_spans")),
                )
            )
        final = record.final
        if final is not None and final.data.get("error") is None:
            against_teacher.append(
                (
                    (final.data.get("label"), final.data.get("spans")),
                    (prediction.get("label"), prediction.get("spans")),
                )
            )
    scores = {
        ONLINE_F1: answer_f1(report.task, against_gold),
        FIT_F1: answer_f1(report.task, against_teacher),
    }
    return {name: value for name, value in scores.items() if value is not None}


def student_metrics(report: RunReport) -> list[tuple[int, dict[str, float]]]:
    """(batch, metrics) for every student 'batch_trained' event: what it logged, plus F1 scores."""
    rows = []
    for event in report.select("student", "batch_trained"):
        metrics = numbers_in(event.data)
        metrics.pop("batch", None)
        predictions = event.data.get("predictions")
        if isinstance(predictions, list):
            metrics.update(_batch_scores(report, [p for p in predictions if isinstance(p, dict)]))
        rows.append((event.batch if event.batch is not None else len(rows), metrics))
    return rows


def metric_series(
    rows: list[tuple[int, dict[str, float]]], match: str
) -> dict[str, list[tuple[float, float]]]:
    """The metrics whose name contains `match` (e.g. 'f1', any case), each as (batch, value) points."""
    series: dict[str, list[tuple[float, float]]] = {}
    for batch, metrics in rows:
        for name, value in metrics.items():
            if match in name.lower():
                series.setdefault(name, []).append((batch, value))
    return series
