"""The self-contained HTML report: one file, inline CSS, JS and SVG, nothing fetched from anywhere."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from dualchecker.data import atomic_write_text
from dualchecker.events import Event
from dualchecker.trace.charts import histogram_svg, line_chart_svg
from dualchecker.trace.machine import graph_svg, node_runs, run_graph
from dualchecker.trace.redact import redact_text
from dualchecker.trace.report import RecordTrace, RunReport, answer_text, load_report
from dualchecker.trace.stats import confidence_histograms, cost_rows, metric_series, student_metrics

TEMPLATES = Path(__file__).parent / "templates"
NO_ANSWER = "(no answer)"


@dataclass
class Step:
    """One line of a record's timeline, ready to print."""

    agent: str
    title: str
    facts: list[str] = field(default_factory=list)
    note: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    raw: str | None = None
    demonstrations: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] | None = None


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _confidence(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _cost_facts(event: Event) -> list[str]:
    facts = []
    if event.usage is not None:
        facts.append(f"tokens {event.usage.input_tokens} in / {event.usage.output_tokens} out")
    if event.seconds is not None:
        facts.append(_seconds(event.seconds))
    return facts


def _attempt_step(event: Event, index: int, followed: bool, threshold: float | None) -> Step:
    data = event.data
    answer = answer_text(data.get("label"), data.get("spans"))
    facts = [f"answer {answer or NO_ANSWER}", f"confidence {_confidence(data.get('confidence'))}"]
    facts += [f"error {data['error']}"] if data.get("error") else []
    note = None
    if followed:
        why = "no valid answer" if answer is None else (
            f"confidence {_confidence(data.get('confidence'))} < threshold {threshold:g}"
            if threshold is not None else "low confidence")
        note = f"{why} → re-prompted"
    return Step(agent="teacher", title="re-prompt" + (f" {index}" if index > 1 else "")
                if data.get("reprompt") else "first answer", facts=facts + _cost_facts(event), note=note,
                messages=data.get("messages") or [], raw=data.get("raw"))


def _final_step(event: Event, gold: str | None) -> Step:
    data = event.data
    answer = answer_text(data.get("label"), data.get("spans"))
    facts = [f"final {answer or NO_ANSWER}", f"confidence {_confidence(data.get('confidence'))}"]
    facts += ["re-prompted"] if data.get("reprompted") else []
    facts += [f"error {data['error']}"] if data.get("error") else []
    note = None if gold is None else ("matches gold" if answer == gold else f"gold is {gold}")
    return Step(agent="teacher_checker", title="checked", facts=facts, note=note)


def _generic_step(event: Event) -> Step:
    scalars = {k: v for k, v in event.data.items() if isinstance(v, (str, int, float, bool)) or v is None}
    rest = {k: v for k, v in event.data.items() if k not in scalars}
    facts = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in scalars.items()]
    return Step(agent=event.agent, title=event.kind.replace("_", " "),
                facts=facts + _cost_facts(event), extra=rest or None)


def timeline(record: RecordTrace, threshold: float | None) -> list[Step]:
    """A record's events as steps, in the order they happened."""
    steps, attempts = [], record.attempts
    for event in record.events:
        if event.agent == "aligner" and event.kind == "demonstrations":
            demos = event.data.get("demonstrations") or []
            sources = Counter(d.get("source", "?") for d in demos)
            steps.append(Step(agent="aligner", title="demonstrations", demonstrations=demos,
                              facts=[f"{n} {source}" for source, n in sources.items()] or ["none"]))
        elif event.agent == "teacher" and event.kind == "answer":
            i = attempts.index(event)
            steps.append(_attempt_step(event, i, i + 1 < len(attempts), threshold))
        elif event.agent == "teacher_checker" and event.kind == "final":
            steps.append(_final_step(event, record.gold))
        else:
            steps.append(_generic_step(event))
    return steps


def _label_key(record: RecordTrace, spans_task: bool) -> str:
    answer = record.teacher_answer
    if answer is None:
        return NO_ANSWER
    return "spans" if spans_task else answer


def _overview(report: RunReport) -> list[tuple[str, str]]:
    records = list(report.records.values())
    done = [r for r in records if r.final is not None]
    reprompted = sum(r.reprompted for r in records)
    calls = [e for e in report.events if e.usage is not None]
    rows = [("records", str(len(records))), ("labelled", str(sum(not r.failed for r in done))),
            ("failed", str(sum(r.failed for r in done))),
            ("re-prompted", f"{reprompted} ({reprompted / len(records):.0%})" if records else "0"),
            ("LLM calls", str(len(calls))),
            ("tokens in / out", f"{sum(e.usage.input_tokens for e in calls)} / "
                                f"{sum(e.usage.output_tokens for e in calls)}")]
    summary = report.summary or {}
    if summary.get("seconds") is not None:
        rows.append(("wall time", _seconds(summary["seconds"])))
    for name in ("f1", "accuracy"):
        if (summary.get("teacher") or {}).get(name) is not None:
            rows.append((f"teacher {name} vs gold", f"{summary['teacher'][name]:.3f}"))
    for name, value in (summary.get("student") or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((f"student {name}", f"{value:.4g}"))
    return rows


def _student(report: RunReport) -> dict[str, Any] | None:
    """Charts and a table of the student's per-batch metrics (None when it logged none)."""
    rows = student_metrics(report)
    if not rows:
        return None
    f1, loss = metric_series(rows, "f1"), metric_series(rows, "loss")
    charts = []
    if f1:
        charts.append(line_chart_svg(f1, "student F1 per batch", y_range=(0.0, 1.0)))
    if loss:
        charts.append(line_chart_svg(loss, "student loss per batch"))
    names = sorted({name for _, metrics in rows for name in metrics})
    return {"charts": charts, "names": names, "rows": rows}


def _template_changes(report: RunReport) -> list[dict[str, Any]]:
    """Each template change: its batch, the demonstrations it added, and what else it logged."""
    changes = []
    for event in report.select("student_checker", "template_changed"):
        data = dict(event.data)
        added = data.pop("added", None) or data.pop("demonstrations", None) or []
        added = [added] if isinstance(added, dict) else added
        template = data.pop("template", None)
        size = len(template) if isinstance(template, list) else data.pop("size", None)
        changes.append({"batch": event.batch, "added": [d for d in added if isinstance(d, dict)],
                        "size": size, "template": template if isinstance(template, list) else [],
                        "extra": data})
    return changes


def _borderline(report: RunReport) -> list[Event]:
    return [e for e in report.events if e.agent == "student_checker" and e.kind == "borderline"]


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(seconds=_seconds, confidence=_confidence,
                       pretty=lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str),
                       when=lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)))
    return env


def render_html(report: RunReport, *, prompts: bool = True) -> str:
    """The whole report as one HTML document (redacted once more on the way out)."""
    graph, graph_note = run_graph(report)
    spans_task = report.task.get("kind") == "spans"
    records = list(report.records.values())
    page = _environment().get_template("report.html.j2").render(
        report=report, records=records, prompts=prompts, overview=_overview(report),
        graph=graph_svg(graph, node_runs(report)), graph_note=graph_note,
        histograms=[histogram_svg(counts, title, threshold=report.threshold)
                    for title, counts in confidence_histograms(report).items()],
        costs=cost_rows(report.events), student=_student(report), templates=_template_changes(report),
        borderline=_borderline(report), timeline=lambda r: timeline(r, report.threshold),
        label_of=lambda r: _label_key(r, spans_task),
        labels=sorted({_label_key(r, spans_task) for r in records}),
        generated=time.time())
    return redact_text(page)


def write_report(run_dir: str | Path, out: str | Path | None = None, *, prompts: bool = True) -> Path:
    """Render RUN_DIR's report to `out` (default RUN_DIR/report.html) and return its path."""
    report = load_report(run_dir)
    path = Path(out) if out is not None else report.run_dir / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_html(report, prompts=prompts))
    return path
