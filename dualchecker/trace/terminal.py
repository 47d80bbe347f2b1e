"""One record's timeline in the terminal, with rich (prompt text is never read as rich markup)."""

from __future__ import annotations

import json

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dualchecker.trace.report import RecordTrace, RunReport, TraceError
from dualchecker.trace.timeline import Step, format_confidence, timeline

AGENT_STYLES = {
    "runner": "grey62",
    "aligner": "cyan",
    "teacher": "blue",
    "teacher_checker": "magenta",
    "student": "green",
    "student_checker": "bright_magenta",
}


def find_record(report: RunReport, record_id: str) -> RecordTrace:
    """The record's trace; raises TraceError naming a few known ids when there is none."""
    if record_id not in report.records:
        known = ", ".join(list(report.records)[:10])
        raise TraceError(
            f"no record {record_id!r} in {report.run_dir} (records: {known}"
            f"{' …' if len(report.records) > 10 else ''})"
        )
    return report.records[record_id]


def _demonstrations(step: Step) -> Table:
    table = Table(show_edge=False, pad_edge=False, expand=False)
    for column in ("source", "record", "label", "similarity", "text"):
        table.add_column(column, overflow="fold")
    for demo in step.demonstrations:
        similarity = demo.get("similarity")
        table.add_row(
            Text(str(demo.get("source", ""))),
            Text(str(demo.get("record_id", ""))),
            Text(str(demo.get("label") or "")),
            Text("" if similarity is None else f"{similarity:.3f}"),
            Text(str(demo.get("text", ""))),
        )
    return table


def _step(step: Step, prompts: bool) -> Group:
    style = AGENT_STYLES.get(step.agent, "white")
    head = Text.assemble((f"{step.agent:<16}", f"bold {style}"), (step.title, "bold"))
    for fact in step.facts:
        head.append("  · " + fact)
    parts: list = [head]
    if step.note:
        parts.append(Text("    " + step.note, style="yellow"))
    if step.demonstrations:
        parts.append(_demonstrations(step))
    if prompts:
        for message in step.messages:
            parts.append(
                Panel(
                    Text(message.get("content", "")),
                    title=Text(message.get("role", "")),
                    title_align="left",
                    border_style="dim",
                )
            )
        if step.raw is not None:
            parts.append(
                Panel(Text(step.raw), title="reply", title_align="left", border_style=style)
            )
    if step.extra:
        parts.append(
            Text(json.dumps(step.extra, indent=2, ensure_ascii=False, default=str), style="dim")
        )
    return Group(*parts)


def _verdict(record: RecordTrace) -> Text:
    answer = record.teacher_answer
    line = Text.assemble(
        ("final ", "bold"),
        (answer or "(no answer)", "bold blue"),
        f"  confidence {format_confidence(record.final_confidence)}",
    )
    if record.reprompted:
        line.append(
            f" (first {format_confidence(record.first_confidence)}, re-prompted)", style="yellow"
        )
    if record.gold is not None:
        ok = answer == record.gold
        line.append(f"   gold {record.gold} ", style="bold")
        line.append("✓ match" if ok else "✗ differs", style="green" if ok else "bold red")
    if record.student_answer is not None:
        line.append(f"   student {record.student_answer}", style="green")
    return line


def print_record(
    report: RunReport, record_id: str, *, console: Console | None = None, prompts: bool = False
) -> None:
    """Print RECORD's trip through the agents: demonstrations, each teacher attempt, the verdict."""
    console = console or Console()
    record = find_record(report, record_id)
    subtitle = f"batch {record.batch}" if record.batch is not None else None
    console.print(
        Panel(
            Text(record.text or "(text not in the results yet)"),
            title=Text(f"record {record.id}", style="bold"),
            subtitle=subtitle,
            title_align="left",
        )
    )
    for step in timeline(record, report.threshold):
        console.print(_step(step, prompts))
    console.print(_verdict(record))
