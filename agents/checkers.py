"""Checkers decide; they never call a model. Graph routers turn their verdicts into edges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dualchecker.agents.types import Attempt, LabelledRecord, Record, Span, Task, TeacherAnswer

TeacherVerdict = Literal["accept", "reprompt"]
FinalRule = Literal["most_confident", "latest", "average"]


class TeacherChecker(BaseModel):
    """Re-prompt a low-confidence or unparseable answer, at most `max_reprompts` times.

    The final answer is, by default, the most confident valid attempt (ties go to the later one):
    a re-prompt that comes back *less* sure does not overwrite a better first answer. ``latest``
    reproduces the paper's reference code, which always kept the re-prompted answer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    threshold: float = Field(0.75, ge=0.0, le=1.0)
    """Re-prompt below this confidence (paper: 0.85 GPT-3.5, 0.75 Llama-2)."""
    max_reprompts: int = Field(1, ge=0)
    final_rule: FinalRule = "most_confident"

    def verdict(self, attempts: list[Attempt], threshold: float | None = None) -> TeacherVerdict:
        """Re-prompt below `threshold` (default: this checker's; a calibration may pick another)."""
        reprompts = sum(a.kind == "reprompt" for a in attempts)
        if reprompts >= self.max_reprompts:
            return "accept"
        last = attempts[-1]
        limit = self.threshold if threshold is None else threshold
        if last.answer is None:  # the teacher already re-asked with the error; no new information
            return "accept" if last.reasks else "reprompt"
        if last.answer.confidence < limit:
            return "reprompt"
        return "accept"

    def final(
        self,
        record: Record,
        attempts: list[Attempt],
        neighbours: list[str] | None = None,
        decide: Callable[[dict[str, float]], str] | None = None,
    ) -> LabelledRecord:
        """The record as labelled by the attempt `final_rule` picks, or with an error when no
        attempt gave a valid answer. `decide` turns an averaged distribution into a label (the
        calibration's decision rule; default: the most likely label)."""
        valid = [(i, a) for i, a in enumerate(attempts) if a.answer is not None]
        base = dict(reprompted=len(attempts) > 1, neighbours=neighbours or [], attempts=attempts)
        if not valid:
            return LabelledRecord.answering(record, **base, error=attempts[-1].error or "no answer")
        if self.final_rule == "latest":
            chosen = valid[-1][1]
        elif self.final_rule == "average" and all(a.answer.probabilities for _, a in valid):
            chosen = valid[-1][1].model_copy(
                update={"answer": average_answer([a for _, a in valid], decide)}
            )
        else:
            chosen = max(valid, key=lambda pair: (pair[1].answer.confidence, pair[0]))[1]
        answer = chosen.answer
        first = attempts[0].answer
        return LabelledRecord.answering(
            record,
            **base,
            label=answer.label,
            spans=list(answer.spans),
            confidence=answer.confidence,
            rationale=answer.rationale,
            confidence_source=answer.confidence_source,
            before=first if len(attempts) > 1 else None,
        )


def average_answer(
    attempts: list[Attempt], decide: Callable[[dict[str, float]], str] | None = None
) -> TeacherAnswer:
    """The mean of the attempts' label distributions: a re-prompt adds evidence, it does not
    simply overwrite (nor get overwritten by) the first answer. One attempt stands as it is."""
    answers = [a.answer for a in attempts if a.answer is not None]
    labels = list(answers[0].probabilities)
    mean = {
        label: sum(a.probabilities.get(label, 0.0) for a in answers) / len(answers)
        for label in labels
    }
    if len(answers) == 1:
        return answers[0]
    best = decide(mean) if decide is not None else max(mean, key=mean.__getitem__)
    return answers[-1].model_copy(
        update={"label": best, "confidence": mean[best], "probabilities": mean}
    )


class StudentAnswer(BaseModel):
    """What the student says about one record, in the teacher's vocabulary."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    label: str | None = None
    spans: list[Span] = Field(default_factory=list)
    confidence: float


class Borderline(BaseModel):
    """A case the student got wrong or nearly wrong, and the answer it should have given."""

    record_id: str
    reason: Literal["wrong vs gold", "disagrees with teacher", "low margin"]
    student_label: str | None = None
    student_spans: list[Span] = Field(default_factory=list)
    student_confidence: float
    reference_label: str | None = None
    reference_spans: list[Span] = Field(default_factory=list)


class BorderlineChecker(BaseModel):
    """Judges each (record, student answer) of a batch alone, then keeps the `per_batch` most
    pressing cases: wrong vs gold, then disagreement, then low margin, each least sure first."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    per_batch: int = Field(1, ge=0)

    def borderline(
        self,
        task: Task,
        labelled: list[LabelledRecord],
        predictions: list[StudentAnswer],
    ) -> list[Borderline]:
        """At most `per_batch` cases, most pressing first."""
        cases = [self._judge(task, item, said) for item, said in zip(labelled, predictions)]
        found = [case for case in cases if case is not None]
        found.sort(key=lambda c: (_RANK[c.reason], c.student_confidence))
        return found[: self.per_batch]

    def _judge(self, task: Task, item: LabelledRecord, said: StudentAnswer) -> Borderline | None:
        raise NotImplementedError


_RANK = {"wrong vs gold": 0, "disagrees with teacher": 1, "low margin": 2}


class StudentChecker(BorderlineChecker):
    """Finds the student's borderline cases after a batch (paper: one per batch).

    With a human label: the student is wrong (classification: other label; spans: the set of
    (type, start, end) differs, so span level, not token level), lowest confidence first.
    Without one: disagreement with the teacher first, then confidence under `margin`.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    margin: float = Field(0.6, ge=0.0, le=1.0)
    """No gold: flag confidence below this."""

    def _judge(self, task: Task, item: LabelledRecord, said: StudentAnswer) -> Borderline | None:
        answer = _answer_key(task, said.label, said.spans)
        base = dict(
            record_id=item.id,
            student_label=said.label,
            student_spans=said.spans,
            student_confidence=said.confidence,
        )
        if has_gold(task, item):
            if answer != _answer_key(task, item.gold_label, item.gold_spans or []):
                return Borderline(
                    **base,
                    reason="wrong vs gold",
                    reference_label=item.gold_label,
                    reference_spans=item.gold_spans or [],
                )
            return None
        if not item.ok:
            return None
        if answer != _answer_key(task, item.label, item.spans):
            return Borderline(
                **base,
                reason="disagrees with teacher",
                reference_label=item.label,
                reference_spans=item.spans,
            )
        if said.confidence < self.margin:
            return Borderline(
                **base, reason="low margin", reference_label=item.label, reference_spans=item.spans
            )
        return None


def without_gold(items: list[LabelledRecord]) -> list[LabelledRecord]:
    """The records with their human labels removed: gold kept for scoring never reaches a
    checker unless the run says a human answers it (`run.inputs_gold_for_feedback`)."""
    return [i.model_copy(update={"gold_label": None, "gold_spans": None}) for i in items]


def has_gold(task: Task, item: LabelledRecord) -> bool:
    """Whether the record carries a human label (spans: a human span set) for the task."""
    return item.gold_spans is not None if task.is_spans else item.gold_label is not None


def _answer_key(task: Task, label: str | None, spans: list[Span]) -> object:
    return frozenset(s.key() for s in spans) if task.is_spans else label


class UncertaintyChecker(BorderlineChecker):
    """EvoKD's selection: every case the student is unsure of (right or wrong), least sure first.

    The reference is the teacher's answer: EvoKD uses no human labels.
    """

    per_batch: int = Field(4, ge=0)
    margin: float = Field(0.95, ge=0.0, le=1.0)

    def _judge(self, task: Task, item: LabelledRecord, said: StudentAnswer) -> Borderline | None:
        if not item.ok or said.confidence >= self.margin:
            return None
        return Borderline(
            record_id=item.id,
            reason="low margin",
            student_label=said.label,
            student_spans=said.spans,
            student_confidence=said.confidence,
            reference_label=item.label,
            reference_spans=item.spans,
        )
