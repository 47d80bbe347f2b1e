"""A record's events as timeline steps, shared by the HTML report and the terminal view."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dualchecker.events import Event
from dualchecker.trace.report import RecordTrace, answer_text

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


def format_seconds(value: float | None) -> str:
    """Seconds for people: '0.31 ms', '240 ms', '1.52 s' ('–' when unknown)."""
    if value is None:
        return "–"
    if value < 0.01:
        return f"{value * 1000:.2f} ms"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def format_confidence(value: float | None) -> str:
    """A confidence with two decimals ('–' when unknown)."""
    return "–" if value is None else f"{value:.2f}"


def _cost_facts(event: Event) -> list[str]:
    facts = []
    if event.usage is not None:
        facts.append(f"tokens {event.usage.input_tokens} in / {event.usage.output_tokens} out")
    if event.seconds is not None:
        facts.append(format_seconds(event.seconds))
    return facts


def _attempt_step(event: Event, index: int, followed: bool, threshold: float | None) -> Step:
    data = event.data
    answer = answer_text(data.get("label"), data.get("spans"))
    facts = [
        f"answer {answer or NO_ANSWER}",
        f"confidence {format_confidence(data.get('confidence'))}",
    ]
    facts += [f"error {data['error']}"] if data.get("error") else []
    facts += [f"re-asked {data['reasks']}× with its error"] if data.get("reasks") else []
    note = None
    if followed:
        why = (
            "no valid answer"
            if answer is None
            else (
                f"confidence {format_confidence(data.get('confidence'))} < threshold {format_confidence(threshold)}"
                if threshold is not None
                else "low confidence"
            )
        )
        note = f"{why} → re-prompted"
    title = (
        "first answer"
        if not data.get("reprompt")
        else "re-prompt"
        if index <= 1
        else f"re-prompt {index}"
    )
    return Step(
        agent="teacher",
        title=title,
        facts=facts + _cost_facts(event),
        note=note,
        messages=data.get("messages") or [],
        raw=data.get("raw"),
    )


def _final_step(event: Event, gold: str | None) -> Step:
    data = event.data
    answer = answer_text(data.get("label"), data.get("spans"))
    facts = [
        f"final {answer or NO_ANSWER}",
        f"confidence {format_confidence(data.get('confidence'))}",
    ]
    facts += ["re-prompted"] if data.get("reprompted") else []
    facts += [f"error {data['error']}"] if data.get("error") else []
    facts += [f"re-asked {data['reasks']}× with its error"] if data.get("reasks") else []
    note = None if gold is None else ("matches gold" if answer == gold else f"gold is {gold}")
    return Step(agent="teacher_checker", title="checked", facts=facts, note=note)


def _prediction_step(event: Event) -> Step:
    data = event.data
    after = answer_text(data.get("label"), data.get("spans")) or "(nothing)"
    facts = [f"predicts {after}", f"confidence {format_confidence(data.get('confidence'))}"]
    if "before_label" in data or "before_spans" in data:
        before = answer_text(data.get("before_label"), data.get("before_spans")) or "(nothing)"
        facts.insert(0, f"before training {before}")
    return Step(
        agent=event.agent,
        title=f"trained on batch {event.batch}" if event.batch is not None else "trained",
        facts=facts,
    )


def _borderline_step(event: Event) -> Step:
    data = event.data
    student = answer_text(data.get("student_label"), data.get("student_spans")) or "(nothing)"
    reference = answer_text(data.get("reference_label"), data.get("reference_spans")) or "(nothing)"
    return Step(
        agent=event.agent,
        title="borderline",
        facts=[
            f"student {student}",
            f"confidence {format_confidence(data.get('student_confidence'))}",
            f"should be {reference}",
        ],
        note=data.get("reason"),
    )


def _template_step(event: Event) -> Step:
    data = event.data
    demo = data.get("demonstration") if isinstance(data.get("demonstration"), dict) else {}
    facts = [
        f"now a template demonstration: {answer_text(demo.get('label'), demo.get('spans')) or '?'}"
    ]
    if data.get("template_size") is not None:
        facts.append(f"template holds {data['template_size']}")
    return Step(
        agent=event.agent,
        title="template changed",
        facts=facts + _cost_facts(event),
        note=demo.get("rationale") or None,
    )


def _generic_step(event: Event) -> Step:
    scalars = {
        k: v for k, v in event.data.items() if isinstance(v, (str, int, float, bool)) or v is None
    }
    rest = {k: v for k, v in event.data.items() if k not in scalars}
    facts = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in scalars.items()]
    return Step(
        agent=event.agent,
        title=event.kind.replace("_", " "),
        facts=facts + _cost_facts(event),
        extra=rest or None,
    )


SPECIAL = {
    ("student", "prediction"): _prediction_step,
    ("student_checker", "borderline"): _borderline_step,
    ("student_checker", "template_changed"): _template_step,
}


def timeline(record: RecordTrace, threshold: float | None) -> list[Step]:
    """A record's events as steps, in the order they happened."""
    steps, attempts = [], record.attempts
    for event in record.events:
        if event.agent == "aligner" and event.kind == "demonstrations":
            demos = event.data.get("demonstrations") or []
            sources = Counter(d.get("source", "?") for d in demos)
            steps.append(
                Step(
                    agent="aligner",
                    title="demonstrations",
                    demonstrations=demos,
                    facts=[f"{n} {source}" for source, n in sources.items()] or ["none"],
                )
            )
        elif event.agent == "teacher" and event.kind == "answer":
            i = attempts.index(event)
            steps.append(_attempt_step(event, i, i + 1 < len(attempts), threshold))
        elif event.agent == "teacher_checker" and event.kind == "final":
            steps.append(_final_step(event, record.gold))
        elif (event.agent, event.kind) in SPECIAL:
            steps.append(SPECIAL[(event.agent, event.kind)](event))
        else:
            steps.append(_generic_step(event))
    return steps
