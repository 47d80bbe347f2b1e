"""What a trace view shows, read from a run directory: the events, grouped per record.

A run directory holds config.json, events.jsonl and results.sqlite (labels.jsonl and summary.json
once it finishes). Only events.jsonl is required, so a run still in progress, or one killed midway,
can be traced too. Everything read here is redacted (see `redact`) before any view sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dualchecker.agents.types import LabelledRecord
from dualchecker.data import read_labels_jsonl
from dualchecker.errors import DualCheckerError
from dualchecker.events import Event, read_events
from dualchecker.trace.redact import redact

STUDENT_AGENTS = ("student", "student_checker")
# (label key, spans key) holding the student's answer: a borderline case, then a prediction
STUDENT_ANSWER_KEYS = {
    "student_checker": ("student_label", "student_spans"),
    "student": ("label", "spans"),
}


class TraceError(DualCheckerError):
    """A run directory cannot be traced (no events, unknown record)."""


def answer_text(label: str | None, spans: list[dict[str, Any]] | None) -> str | None:
    """One line for a label or a list of spans: ``yes`` or ``cause "heat pump" · effect "…"``."""
    if label is not None:
        return str(label)
    if spans:
        ordered = sorted(
            spans, key=lambda s: (s.get("start", 0), s.get("end", 0), str(s.get("type")))
        )
        return " · ".join(f'{s.get("type")} "{s.get("text", "")}"' for s in ordered)
    return None


def _spans(items: list[Any] | None) -> list[dict[str, Any]]:
    return [s.model_dump() if hasattr(s, "model_dump") else dict(s) for s in items or []]


@dataclass
class RecordTrace:
    """One record's trip: aligner → teacher (→ re-prompt …) → teacher checker → student side."""

    id: str
    text: str = ""
    gold_label: str | None = None
    gold_spans: list[dict[str, Any]] | None = None
    batch: int | None = None
    events: list[Event] = field(default_factory=list)

    @property
    def gold(self) -> str | None:
        """The human answer as one line (None without one)."""
        return answer_text(self.gold_label, self.gold_spans)

    @property
    def demonstrations(self) -> list[Event]:
        """The aligner's demonstration events for this record."""
        return [e for e in self.events if e.agent == "aligner" and e.kind == "demonstrations"]

    @property
    def attempts(self) -> list[Event]:
        """The teacher's answers, the first and any re-prompts, in order."""
        return [e for e in self.events if e.agent == "teacher" and e.kind == "answer"]

    @property
    def final(self) -> Event | None:
        """The teacher checker's last final-answer event (None while the record is open)."""
        finals = [e for e in self.events if e.agent == "teacher_checker" and e.kind == "final"]
        return finals[-1] if finals else None

    @property
    def student_events(self) -> list[Event]:
        """The student's and the student checker's events for this record."""
        return [e for e in self.events if e.agent in STUDENT_AGENTS]

    @property
    def teacher_answer(self) -> str | None:
        """The teacher's final answer as one line (None before the checker's final word)."""
        final = self.final
        return (
            None if final is None else answer_text(final.data.get("label"), final.data.get("spans"))
        )

    @property
    def reprompted(self) -> bool:
        """True when the teacher was re-prompted on this record."""
        return any(a.data.get("reprompt") for a in self.attempts)

    @property
    def failed(self) -> bool:
        """True when the final word is that no answer was accepted."""
        return self.final is not None and self.final.data.get("error") is not None

    @property
    def first_confidence(self) -> float | None:
        """The confidence of the teacher's first answer, if any."""
        attempts = self.attempts
        return attempts[0].data.get("confidence") if attempts else None

    @property
    def final_confidence(self) -> float | None:
        """The confidence of the accepted answer, if any."""
        return None if self.final is None else self.final.data.get("confidence")

    @property
    def student_answer(self) -> str | None:
        """The student's latest answer for this record (after training on its batch), if logged."""
        for event in reversed(self.student_events):
            label_key, spans_key = STUDENT_ANSWER_KEYS[event.agent]
            if event.kind in ("prediction", "borderline") and (
                label_key in event.data or spans_key in event.data
            ):
                return (
                    answer_text(event.data.get(label_key), event.data.get(spans_key)) or "(nothing)"
                )
        return None

    @property
    def disagrees(self) -> bool:
        """Teacher and student gave different answers (False when either is missing)."""
        teacher, student = self.teacher_answer, self.student_answer
        return teacher is not None and student is not None and teacher != student

    @property
    def wrong(self) -> bool:
        """The teacher's final answer differs from the gold one (False without gold)."""
        return self.gold is not None and self.final is not None and self.teacher_answer != self.gold


@dataclass
class RunReport:
    """A whole run: its settings, summary, every event, and the records' traces in run order."""

    run_dir: Path
    run_id: str
    config: dict[str, Any]
    summary: dict[str, Any] | None
    events: list[Event]
    records: dict[str, RecordTrace]

    @property
    def method(self) -> dict[str, Any]:
        """The run's method settings from config.json (empty when there is no config)."""
        return self.config.get("method") or {}

    @property
    def task(self) -> dict[str, Any]:
        """The run's task from config.json (empty when there is no config)."""
        return self.config.get("task") or {}

    @property
    def threshold(self) -> float | None:
        """The teacher checker's threshold: the one the calibration picked, else the configured."""
        method = self.method
        if not method.get("teacher_checker", True):
            return None
        fitted = self.select("calibration", "fitted")
        if fitted:
            calibration = fitted[-1].data.get("calibration", {})
            return calibration.get("reprompt_threshold", calibration.get("threshold"))
        return method.get("threshold")

    @property
    def has_student(self) -> bool:
        """True when the run logged any student or student-checker event."""
        return any(e.agent in STUDENT_AGENTS for e in self.events)

    def select(self, agent: str, kind: str | None = None) -> list[Event]:
        """The run's events from `agent` (of `kind`, when given), in order."""
        return [e for e in self.events if e.agent == agent and (kind is None or e.kind == kind)]


def load_report(run_dir: str | Path) -> RunReport:
    """Read and redact a run directory; raises TraceError when it has no events."""
    run_dir = Path(run_dir)
    events_path = run_dir / "events.jsonl"
    if not events_path.is_file():
        raise TraceError(f"{run_dir} has no events.jsonl: is it a DualChecker run directory?")
    events = [Event.model_validate(redact(e.model_dump())) for e in read_events(events_path)]
    events.sort(key=lambda e: e.seq)
    results = _read_results(run_dir)
    return RunReport(
        run_dir=run_dir,
        run_id=events[0].run_id if events else run_dir.name,
        config=_read_json(run_dir / "config.json") or {},
        summary=_read_json(run_dir / "summary.json"),
        events=events,
        records=_group_records(events, results),
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return redact(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: not valid JSON ({exc})") from None


def _read_results(run_dir: Path) -> list[LabelledRecord]:
    """Labelled records from results.sqlite (updated per batch), else labels.jsonl."""
    if (run_dir / "results.sqlite").is_file():
        from dualchecker.graph.store import ResultStore

        store = ResultStore(run_dir / "results.sqlite")
        try:
            return store.all()
        finally:
            store.close()
    if (run_dir / "labels.jsonl").is_file():
        return read_labels_jsonl(run_dir / "labels.jsonl")
    return []


def _group_records(events: list[Event], results: list[LabelledRecord]) -> dict[str, RecordTrace]:
    records: dict[str, RecordTrace] = {}
    for event in events:
        if event.agent == "runner" and event.kind == "batch_planned":
            for rid in event.data.get("record_ids", []):
                records.setdefault(rid, RecordTrace(id=rid, batch=event.batch))
    for event in events:
        if event.agent == "aligner" and event.kind == "rationale":
            continue  # a rationale is written for a demonstration, not for the record being labelled
        for item in per_record(event):
            records.setdefault(item.record_id, RecordTrace(id=item.record_id)).events.append(item)
    for item in results:
        trace = records.setdefault(item.id, RecordTrace(id=item.id))
        trace.text = redact(item.text)
        trace.gold_label = item.gold_label
        trace.gold_spans = None if item.gold_spans is None else redact(_spans(item.gold_spans))
    return records


def per_record(event: Event) -> list[Event]:
    """The event as seen by each record it is about.

    A student batch event lists every record's prediction, and a borderline event every case;
    each becomes a 'prediction' or 'borderline' event of its own record (same seq and time).
    """
    if event.agent == "student" and event.kind == "batch_trained":
        items, kind = event.data.get("predictions"), "prediction"
    elif (
        event.agent == "student_checker" and event.kind == "borderline" and event.record_id is None
    ):
        items, kind = event.data.get("cases"), "borderline"
    else:
        return [event] if event.record_id is not None else []
    return [
        event.model_copy(
            update={
                "kind": kind,
                "record_id": str(item["record_id"]),
                "data": item,
                "usage": None,
                "seconds": None,
            }
        )
        for item in items or []
        if isinstance(item, dict) and item.get("record_id") is not None
    ]
