"""Student: a small transformer learning online from the teacher's labels, batch by batch.

Teacher answers become training labels only for the records the teacher labelled; the human
pool joins them as human labels. A record the teacher could not label is left out and counted; a
gold label of a labelled record is never put in its place (the reference code did exactly that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from dualchecker.agents.types import LabelledRecord, Record, Span, Task
from dualchecker.training.data import CharSpan, StudentExample
from dualchecker.training.prediction import StudentPrediction
from dualchecker.training.trainer import FitReport


class Trainer(Protocol):
    """StudentTrainer in this process, or RemoteStudent in a Ray actor: one interface."""

    def fit_batch(self, examples: Sequence[StudentExample]) -> FitReport:
        """Train on one batch of examples and report how it went."""
        ...

    def predict(self, texts: Sequence[str]) -> list[StudentPrediction]:
        """The student's current prediction for each text."""
        ...

    def remember(self, examples: Sequence[StudentExample]) -> None:
        """Keep examples for replay in later online steps, untrained for now."""
        ...


Weighting = Literal["confidence", "uniform"]


def teacher_examples(
    task: Task,
    labelled: Sequence[LabelledRecord],
    *,
    min_confidence: float | None = None,
    weighting: Weighting = "uniform",
) -> tuple[list[StudentExample], int]:
    """Training examples from teacher answers only; returns (examples, records left out).

    With `min_confidence`, answers the teacher is less sure of (calibrated, when the run
    calibrated) are left out too: a label that is probably wrong teaches the student the
    teacher's mistake. With `weighting="confidence"` each kept answer counts in the loss by its
    confidence instead, so a doubtful label teaches less without being thrown away.
    """
    ids = {name: i for i, name in enumerate(task.label_names)}
    examples, left_out = [], 0
    for item in labelled:
        unsure = (
            min_confidence is not None
            and item.confidence is not None
            and item.confidence < min_confidence
        )
        if not item.ok or unsure:
            left_out += 1
            continue
        weight = 1.0
        if weighting == "confidence" and item.confidence is not None:
            weight = float(item.confidence)
        if task.is_spans:
            spans = [CharSpan(start=s.start, end=s.end, type=s.type) for s in item.spans]
            examples.append(StudentExample(id=item.id, text=item.text, spans=spans, weight=weight))
        else:
            examples.append(
                StudentExample(id=item.id, text=item.text, label=ids[item.label], weight=weight)
            )
    return examples, left_out


def gold_examples(task: Task, records: Sequence[Record]) -> list[StudentExample]:
    """Examples from human labels: for held-out evaluation and the gold-trained reference only."""
    ids = {name: i for i, name in enumerate(task.label_names)}
    out = []
    for r in records:
        if task.is_spans and r.spans is not None:
            out.append(
                StudentExample(
                    id=r.id,
                    text=r.text,
                    spans=[CharSpan(start=s.start, end=s.end, type=s.type) for s in r.spans],
                )
            )
        elif not task.is_spans and r.label is not None:
            out.append(StudentExample(id=r.id, text=r.text, label=ids[r.label]))
    return out


def prediction_answer(
    task: Task, text: str, prediction: StudentPrediction
) -> tuple[str | None, list[Span]]:
    """A student prediction in the teacher's vocabulary: a label name, or spans with their text."""
    if task.is_spans:
        return None, [
            Span(type=s.type, start=s.start, end=s.end, text=text[s.start : s.end])
            for s in prediction.spans
        ]
    return task.label_names[prediction.label], []


def scored_predictions(
    task: Task, held_out: Sequence[Record], predictions: Sequence[StudentPrediction]
) -> list[LabelledRecord]:
    """A final student's answers on the held-out records beside their gold, as records the
    teacher's scoring (and its bootstrap) reads. `predictions` follow `gold_examples(held_out)`."""
    scored = [r for r in held_out if (r.spans if task.is_spans else r.label) is not None]
    if len(scored) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(scored)} held-out records")
    out = []
    for record, prediction in zip(scored, predictions):
        label, spans = prediction_answer(task, record.text, prediction)
        out.append(
            LabelledRecord.answering(
                record, label=label, spans=spans, confidence=prediction.confidence
            )
        )
    return out


class StudentAgent:
    """Trains on each labelled batch and says what it now predicts for it."""

    def __init__(
        self,
        task: Task,
        trainer: Trainer,
        *,
        min_confidence: float | None = None,
        weighting: Weighting = "uniform",
        human_pool: Sequence[Record] = (),
    ):
        self.task, self.trainer, self.min_confidence = task, trainer, min_confidence
        self.weighting = weighting
        if human_pool:  # replayed beside the teacher's labels in every online step
            trainer.remember(gold_examples(task, human_pool))

    def train(self, labelled: Sequence[LabelledRecord]) -> tuple[FitReport | None, int]:
        """Fit on the batch's teacher answers (plus replay, which holds the human pool when the
        run gave one); returns the fit (None if nothing was usable) and how many records were
        left out."""
        examples, left_out = teacher_examples(
            self.task, labelled, min_confidence=self.min_confidence, weighting=self.weighting
        )
        return (self.trainer.fit_batch(examples) if examples else None), left_out

    def predict(self, records: Sequence[LabelledRecord | Record]) -> list[StudentPrediction]:
        """The student's prediction for each record's text."""
        return self.trainer.predict([r.text for r in records]) if records else []
