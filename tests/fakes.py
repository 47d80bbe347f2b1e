"""Test doubles at the interface boundary: a scripted teacher that reads its prompt like a model."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from langchain_core.messages import BaseMessage

from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.agents.types import Record, Span, Task, label_defs, span_type_defs
from dualchecker.events import read_events

BINARY = Task(
    name="green claims",
    kind="binary",
    instructions="Does the sentence make an environmental claim?",
    labels=label_defs(no="no environmental claim", yes="an environmental claim"),
)
MULTICLASS = Task(
    name="green path",
    kind="multiclass",
    instructions="Which environmental path does the technology take?",
    labels=label_defs(
        energy="saves energy",
        renewables="renewable power, less emission",
        recycling="less waste, more recycling",
    ),
)
SPANS = Task(
    name="cause effect",
    kind="spans",
    instructions="Find the technology and its effect.",
    span_types=span_type_defs(cause="the technology", effect="its environmental effect"),
)


def current_text(messages: list[BaseMessage]) -> str:
    """The text being labelled: the last 'Text:' line of the last user message that has one
    (a re-ask adds a user message without it)."""
    for message in reversed([m for m in messages if m.type == "human"]):
        found = re.findall(r"^Text: (.*)$", message.content, flags=re.M)
        if found:
            return found[-1]
    raise ValueError("no 'Text:' line in the prompt")


def is_rationale_prompt(messages: list[BaseMessage]) -> bool:
    return "You explain" in messages[0].content


def is_reprompt(messages: list[BaseMessage]) -> bool:
    return "Take extra care" in messages[-1].content


def scripted_teacher(answer: Callable[[str, bool], dict | str], **kwargs) -> ScriptedChatModel:
    """A chat model answering rationale prompts generically and teacher prompts by `answer`."""

    def respond(messages: list[BaseMessage]) -> str:
        if is_rationale_prompt(messages):
            return json.dumps({"rationale": "The annotators' answer matches the standard."})
        reply = answer(current_text(messages), is_reprompt(messages))
        return reply if isinstance(reply, str) else json.dumps(reply)

    return ScriptedChatModel(responder=respond, **kwargs)


def keyword_label(text: str, keywords: dict[str, list[str]], default: str) -> str:
    lowered = text.lower()
    for label, words in keywords.items():
        if any(w in lowered for w in words):
            return label
    return default


def records(rows: list[tuple[str, str, str | None]], *, detail: bool = False) -> list[Record]:
    return [
        Record(id=rid, text=text, label=label, detail=f"Detail about {rid}." if detail else None)
        for rid, text, label in rows
    ]


TEST_DATA = Path(__file__).parent / "data"


def toy_records(name: str, *, detail: bool = False) -> list[Record]:
    """A small hand-written corpus from ``tests/data/NAME.jsonl`` (one id, text and label a line)."""
    lines = (TEST_DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    return records([(r["id"], r["text"], r["label"]) for r in rows], detail=detail)


def span_record(rid: str, text: str, cause: str, effect: str) -> Record:
    def span(kind: str, quote: str) -> Span:
        start = text.index(quote)
        return Span(type=kind, start=start, end=start + len(quote), text=quote)

    return Record(id=rid, text=text, spans=[span("cause", cause), span("effect", effect)])


def green_span_records() -> list[Record]:
    """Three cause/effect sentences with their human spans, shared by the span-run tests."""
    return [
        span_record(
            "s1",
            "A heat pump that reuses waste heat cuts fuel use.",
            "A heat pump",
            "cuts fuel use",
        ),
        span_record(
            "s2",
            "LED lighting lowers power demand in offices.",
            "LED lighting",
            "lowers power demand",
        ),
        span_record(
            "s3",
            "The new catalyst reduces NOx emissions.",
            "The new catalyst",
            "reduces NOx emissions",
        ),
    ]


class SpyTrainer:
    """A student that records what it is trained on and always answers 'no' (label 0) at
    `confidence`: enough to drive the student side of the graph without a model."""

    def __init__(self, confidence: float = 0.55):
        self.seen: list = []
        self.remembered: list = []
        self.confidence = confidence

    def remember(self, examples):
        """Record what joins the replay buffer untrained (the human pool)."""
        self.remembered.extend(examples)

    def fit_batch(self, examples):
        """Record the examples; report a nominal fit."""
        from dualchecker.training.trainer import FitReport

        self.seen.extend(examples)
        return FitReport(
            loss=0.1,
            steps=1,
            examples=len(examples),
            seconds=0.01,
            samples_per_s=100.0,
            learning_rate=2e-5,
        )

    def predict(self, texts):
        """'no' for every text."""
        from dualchecker.training.prediction import StudentPrediction

        p = self.confidence
        return [StudentPrediction(label=0, probs=[p, 1 - p], confidence=p) for _ in texts]


def teacher_answers_since_last_start(run_dir: Path) -> list[str]:
    """Record ids the teacher answered after the run's most recent start or resume: what a
    resumed run sent to the teacher again."""
    events = read_events(run_dir / "events.jsonl")
    start = max(i for i, e in enumerate(events) if e.kind in ("run_started", "run_resumed"))
    return [e.record_id for e in events[start:] if e.agent == "teacher" and e.kind == "answer"]
