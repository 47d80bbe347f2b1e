"""The data every agent speaks: tasks, records, spans, answers and demonstrations.

Labels travel as their names (strings); class ids exist only where a model needs them, so a
prompt, a trace and a JSONL file all read the same way.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dualchecker.training.data import CharSpan


class TaskKind(str, Enum):
    """Two labels, several labels, or quoted spans of the text."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    SPANS = "spans"


class LabelDef(BaseModel):
    """One label of a classification task, with what it means."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    name: str = Field(min_length=1)
    """The label as the teacher must write it."""
    description: str = ""
    """What the label means, shown in every prompt."""


class SpanTypeDef(BaseModel):
    """One kind of span a spans task quotes from the text, with what it means."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    name: str = Field(min_length=1, pattern=r'^[^"\\\s][^"\\]*$')
    """A key of the teacher's JSON answer, e.g. 'cause'."""
    description: str = ""


def label_defs(**descriptions: str) -> list[LabelDef]:
    """Labels from ``name=description`` pairs, in the order given (which is their class ids)."""
    return [LabelDef(name=name, description=text) for name, text in descriptions.items()]


def span_type_defs(**descriptions: str) -> list[SpanTypeDef]:
    """Span types from ``name=description`` pairs, in the order given."""
    return [SpanTypeDef(name=name, description=text) for name, text in descriptions.items()]


class Task(BaseModel):
    """What is being labelled, and by which standard."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    name: str
    kind: TaskKind
    instructions: str
    """The labelling standard, in the task owner's words."""
    labels: list[LabelDef] = Field(default_factory=list)
    span_types: list[SpanTypeDef] = Field(default_factory=list)
    positive_label: str | None = None
    """Binary tasks: the class whose F1 is reported (default: the 2nd label)."""

    @model_validator(mode="after")
    def _labels_fit_kind(self) -> Task:
        if self.kind is TaskKind.SPANS:
            if not self.span_types:
                raise ValueError("a spans task needs at least one entry in span_types")
        elif self.kind is TaskKind.BINARY and len(self.labels) != 2:
            raise ValueError(f"a binary task needs exactly 2 labels, got {len(self.labels)}")
        elif self.kind is TaskKind.MULTICLASS and len(self.labels) < 2:
            raise ValueError("a multiclass task needs at least 2 labels")
        names = [lab.name for lab in self.labels]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate label names in {names}")
        if self.positive_label is not None and self.positive_label not in names:
            raise ValueError(f"positive_label {self.positive_label!r} is not one of {names}")
        return self

    @property
    def label_names(self) -> list[str]:
        """The labels' names, in the task's order (their class ids)."""
        return [lab.name for lab in self.labels]

    @property
    def span_type_names(self) -> list[str]:
        """The span types' names, in the task's order."""
        return [s.name for s in self.span_types]

    @property
    def positive(self) -> str | None:
        """Binary tasks: the label whose F1 is reported (default: the second); else None."""
        if self.kind is not TaskKind.BINARY:
            return None
        return self.positive_label or self.labels[1].name

    @property
    def is_spans(self) -> bool:
        """True for a span-extraction task, False for classification."""
        return self.kind is TaskKind.SPANS


class Span(CharSpan):
    """A piece of a record's text, by character offsets (end exclusive), with the quote itself."""

    text: str = ""


class Record(BaseModel):
    """One input text, with an optional longer context and optional human gold label or spans."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    detail: str | None = None
    """Longer context used when the teacher is re-prompted."""
    label: str | None = None
    spans: list[Span] | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text is empty")
        return v

    @model_validator(mode="after")
    def _spans_inside_text(self) -> Record:
        for span in self.spans or []:
            if span.end > len(self.text):
                raise ValueError(
                    f"gold span {span.key()} ends after the text ({len(self.text)} chars)"
                )
        return self

    @property
    def has_gold(self) -> bool:
        """True when a human label or human spans are known."""
        return self.label is not None or self.spans is not None


class TeacherAnswer(BaseModel):
    """A validated teacher answer: a label from the task or spans that occur in the text."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    label: str | None = None
    spans: list[Span] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""
    confidence_source: Literal["token_probability", "sample_agreement", "verbalised"] = "verbalised"
    """What produced `confidence`: the model's label probability, agreement over samples, or the
    number the model wrote."""
    probabilities: dict[str, float] | None = None
    """Classification: the (calibrated, when a calibration is fitted) probability of every label;
    `label` is the most likely one."""
    raw_probabilities: dict[str, float] | None = None
    """The model's own label distribution, before calibration."""
    raw_spans: list[Span] | None = None
    """Spans: the teacher's own quotes, before calibration chose among them."""
    verbalised_confidence: float | None = None
    """The number the model stated, kept beside a token probability."""
    dropped_spans: int = Field(0, ge=0)
    """Quotes not found in the text, dropped one by one."""


class Usage(BaseModel):
    """Tokens one LLM call used (zeros when the backend does not report them)."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Attempt(BaseModel):
    """One teacher call: the prompt it saw, the raw reply, and the answer or why there is none."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: Literal["initial", "reprompt"]
    messages: list[dict[str, str]]
    raw: str = ""
    answer: TeacherAnswer | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    cached: bool = False
    """Answered by the LLM cache."""
    reasks: int = Field(0, ge=0)
    """Malformed replies re-asked with their error before this answer (or before giving up)."""


class Demonstration(BaseModel):
    """A worked example in a prompt: a text, its known answer, and why."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    source: Literal["aligned", "template", "static"]
    record_id: str
    text: str
    label: str | None = None
    spans: list[Span] = Field(default_factory=list)
    rationale: str = ""
    similarity: float | None = None
    answer_source: Literal["annotators", "teacher"] = "annotators"
    """Whose answer this is: a human label, or the teacher's own earlier answer (student feedback
    without a human label)."""

    @classmethod
    def of(
        cls,
        record: Record,
        source: Literal["aligned", "static"],
        *,
        rationale: str = "",
        similarity: float | None = None,
    ) -> Demonstration:
        """A human-labelled record shown as a worked example."""
        return cls(
            source=source,
            record_id=record.id,
            text=record.text,
            label=record.label,
            spans=record.spans or [],
            rationale=rationale,
            similarity=similarity,
        )


class LabelledRecord(BaseModel):
    """The teacher's final word on one record, with every attempt kept."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    text: str
    label: str | None = None
    spans: list[Span] = Field(default_factory=list)
    confidence: float | None = None
    confidence_source: str | None = None
    """token_probability, sample_agreement or verbalised."""
    rationale: str = ""
    reprompted: bool = False
    before: TeacherAnswer | None = None
    """The first answer, when a re-prompt replaced it."""
    error: str | None = None
    """Why no answer was accepted (the record is then unlabelled)."""
    gold_label: str | None = None
    gold_spans: list[Span] | None = None
    neighbours: list[str] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)

    @classmethod
    def answering(cls, record: Record, **answer: Any) -> LabelledRecord:
        """An answer to `record`, beside the record's own text and human label or spans (kept
        for scoring, never shown to a student as a teacher label)."""
        return cls(
            id=record.id,
            text=record.text,
            gold_label=record.label,
            gold_spans=record.spans,
            **answer,
        )

    @property
    def ok(self) -> bool:
        """True when the teacher's answer was accepted (no error)."""
        return self.error is None
