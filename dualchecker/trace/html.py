"""The self-contained HTML report: one file, inline CSS, JS and SVG, nothing fetched from anywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from dualchecker.data import atomic_write_text
from dualchecker.trace.charts import histogram_svg, line_chart_svg, reliability_svg
from dualchecker.trace.machine import graph_svg, node_runs, run_graph
from dualchecker.trace.redact import redact_text
from dualchecker.trace.report import RecordTrace, RunReport, answer_text, load_report, per_record
from dualchecker.trace.stats import (
    confidence_histograms,
    cost_rows,
    metric_series,
    numbers_in,
    student_metrics,
)
from dualchecker.trace.timeline import NO_ANSWER, format_confidence, format_seconds, timeline

TEMPLATES = Path(__file__).parent / "templates"


def _label_key(record: RecordTrace, spans_task: bool) -> str:
    answer = record.teacher_answer
    if answer is None:
        return NO_ANSWER
    return "spans" if spans_task else answer


def _overview(report: RunReport) -> list[tuple[str, str]]:
    records = list(report.records.values())
    done = [r for r in records if r.final is not None]
    reprompted = sum(r.reprompted for r in records)
    calls = [e for e in report.events if e.usage is not None and e.data.get("cached") is not True]
    rows = [
        ("records", str(len(records))),
        ("labelled", str(sum(not r.failed for r in done))),
        ("failed", str(sum(r.failed for r in done))),
        ("re-prompted", f"{reprompted} ({reprompted / len(records):.0%})" if records else "0"),
        ("LLM calls", str(len(calls))),
        (
            "tokens in / out",
            f"{sum(e.usage.input_tokens for e in calls)} / "
            f"{sum(e.usage.output_tokens for e in calls)}",
        ),
    ]
    summary = report.summary or {}
    if summary.get("seconds") is not None:
        rows.append(("wall time", format_seconds(summary["seconds"])))
    if summary.get("cache_hits"):
        rows.append(("LLM cache hits", str(summary["cache_hits"])))
    if summary.get("cost_usd") is not None:
        rows.append(("cost", f"${summary['cost_usd']:.4f}"))
    for name in ("f1", "accuracy"):
        if (summary.get("teacher") or {}).get(name) is not None:
            rows.append((f"teacher {name} vs gold", f"{summary['teacher'][name]:.3f}"))
    for name, value in numbers_in(summary.get("student") or {}).items():
        if name in STUDENT_CARDS:  # the final students' held-out scores
            rows.append((STUDENT_CARDS[name], f"{value:.3f}"))
    rows += _teacher_value_rows(summary)
    if summary.get("template_refinements"):
        rows.append(("template demonstrations added", str(summary["template_refinements"])))
    return rows


def _teacher_value_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """What the teacher added over the human pool: its weight, the labels it changed, and the
    student against the pool-only one (the sentence the terminal summary prints)."""
    from dualchecker.comparison import StudentComparison, plain_sentence

    rows = []
    c = summary.get("contribution") or {}
    if c.get("teacher_weight") is not None:
        rows.append(("teacher weight (calibration)", f"{c['teacher_weight']:.2f}"))
    if c.get("compared"):
        share = c["changed"] / c["compared"]
        rows.append(("labels changed from the pool model's", f"{c['changed']} ({share:.0%})"))
    if summary.get("comparison"):
        comparison = StudentComparison.model_validate(summary["comparison"])
        n_human = (summary.get("student") or {}).get("n_human", 0)
        rows.append(("did the teacher help?", plain_sentence(comparison, n_human)))
    return rows


STUDENT_CARDS = {
    "teacher_labels.f1": "student F1, trained on the pool and the teacher's labels",
    "pool_only.f1": "student F1, trained on the human pool alone",
    "self_training.f1": "student F1, self-training (pool + the pool model's labels)",
    "gold_labels.f1": "student F1, trained on every record's human label (ceiling)",
    "teacher_labels.token_f1": "student token F1, teacher labels",
    "gold_labels.token_f1": "student token F1, human labels",
}


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
    names = sorted(
        {name for _, metrics in rows for name in metrics}, key=lambda n: ("f1" not in n.lower(), n)
    )
    return {"charts": charts, "names": names, "rows": rows}


def _template_changes(report: RunReport) -> list[dict[str, Any]]:
    """Each template change: its batch, why, the demonstration(s) it added, the template's size."""
    changes = []
    for event in report.select("student_checker", "template_changed"):
        data = dict(event.data)
        added = (
            data.pop("demonstration", None)
            or data.pop("added", None)
            or data.pop("demonstrations", None)
            or []
        )
        added = [added] if isinstance(added, dict) else added
        template = data.pop("template", None)
        size = data.pop("template_size", None)
        if size is None and isinstance(template, list):
            size = len(template)
        changes.append(
            {
                "batch": event.batch,
                "reason": data.pop("reason", None),
                "size": size,
                "added": [
                    {**d, "answer": answer_text(d.get("label"), d.get("spans"))}
                    for d in added
                    if isinstance(d, dict)
                ],
                "extra": data,
            }
        )
    return changes


def _borderline(report: RunReport) -> list[dict[str, Any]]:
    """One row per borderline case the student checker sent back."""
    rows = []
    for event in report.select("student_checker", "borderline"):
        for case in per_record(event):
            data = case.data
            rows.append(
                {
                    "batch": event.batch,
                    "record_id": case.record_id,
                    "reason": data.get("reason"),
                    "student": answer_text(data.get("student_label"), data.get("student_spans")),
                    "confidence": data.get("student_confidence"),
                    "reference": answer_text(
                        data.get("reference_label"), data.get("reference_spans")
                    ),
                }
            )
    return rows


def reliability_panels(report: RunReport) -> dict[str, dict | None]:
    """Reliability of the teacher's confidence: pool sample before and after calibration, and
    the labelled records (from the run summary)."""
    fitted = report.select("calibration", "fitted")
    calibration = fitted[-1].data.get("calibration", {}) if fitted else {}
    summary = report.summary or {}
    return {
        "pool, model's own": calibration.get("pool_raw"),
        "pool, calibrated": calibration.get("pool_calibrated"),
        "labelled records": (summary.get("confidence") or {}).get("final"),
    }


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        seconds=format_seconds,
        confidence=format_confidence,
        pretty=lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str),
        when=lambda ts: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)),
    )
    return env


def render_html(report: RunReport, *, prompts: bool = True) -> str:
    """The whole report as one HTML document (redacted once more on the way out)."""
    graph, graph_note = run_graph(report)
    spans_task = report.task.get("kind") == "spans"
    records = list(report.records.values())
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            report=report,
            records=records,
            prompts=prompts,
            overview=_overview(report),
            graph=graph_svg(graph, node_runs(report)),
            graph_note=graph_note,
            histograms=[
                histogram_svg(counts, title, threshold=report.threshold)
                for title, counts in confidence_histograms(report).items()
            ],
            reliability=[
                reliability_svg(r["bins"], title, ece=r.get("ece"), auroc=r.get("auroc"))
                for title, r in reliability_panels(report).items()
                if r and r.get("bins")
            ],
            costs=cost_rows(report.events),
            student=_student(report),
            templates=_template_changes(report),
            borderline=_borderline(report),
            timeline=lambda r: timeline(r, report.threshold),
            label_of=lambda r: _label_key(r, spans_task),
            labels=sorted({_label_key(r, spans_task) for r in records}),
            generated=time.time(),
        )
    )
    return redact_text(page)


def write_report(
    run_dir: str | Path, out: str | Path | None = None, *, prompts: bool = True
) -> Path:
    """Render RUN_DIR's report to `out` (default RUN_DIR/report.html) and return its path."""
    report = load_report(run_dir)
    path = Path(out) if out is not None else report.run_dir / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_html(report, prompts=prompts))
    return path
