"""What the teacher did beyond the human pool: its fitted weight and the labels it changed.

The calibration weighs the teacher against the pool's own model (probe or tagger); its weight
on the teacher says how much the fit trusted the LLM. The share of final labels that differ from
the pool model's own labels says how much the LLM changed; scored against gold (when the
records have it), the two sets of labels say whether those changes were right.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from dualchecker.agents.aligner import ExampleIndex
from dualchecker.agents.pool_model import PoolClassifier
from dualchecker.agents.span_probe import SpanProbe
from dualchecker.agents.types import LabelledRecord, Record, Task
from dualchecker.evaluation import teacher_scores


class TeacherContribution(BaseModel):
    """The teacher's share of the decision and of the final labels, beside the pool model's."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    teacher_weight: float | None
    """Share of the calibration's fitted weight on the teacher's features (None: not fitted)."""
    compared: int
    """Records both the teacher and the pool model answered."""
    changed: int
    """Of those, final labels (or span sets) that differ from the pool model's."""
    pool_model_f1: float | None = None
    """The pool model's own labels scored against gold, when the records have it."""
    final_f1: float | None = None
    """The run's final labels scored the same way, on the same records."""

    @property
    def changed_share(self) -> float:
        """Changed labels as a share of the compared records."""
        return self.changed / self.compared if self.compared else 0.0


def pool_answers(
    task: Task, records: list[Record], index: ExampleIndex | None, tagger: SpanProbe | None
) -> list[LabelledRecord]:
    """The pool model's answer to every record: the classifier on the pool's embeddings, or the
    pool's span tagger; none when the pool cannot train one."""
    if task.is_spans:
        if tagger is None:
            return []
        tagger.prefetch(records)
        return [LabelledRecord.answering(r, spans=tagger.spans(r)) for r in records]
    if index is None:
        return []
    try:
        classifier = PoolClassifier(task, index)
    except ValueError:  # a pool with one class has no model of its own
        return []
    return classifier.answer(records)


def contribution(
    task: Task,
    labelled: list[LabelledRecord],
    pool_said: list[LabelledRecord],
    neighbour_weight: float | None,
) -> TeacherContribution:
    """Compare the final labels with the pool model's, record for record."""
    mine = {r.id: r for r in labelled if r.ok}
    pairs = [(mine[p.id], p) for p in pool_said if p.id in mine]
    changed = sum(_answer(task, a) != _answer(task, b) for a, b in pairs)
    scored = [(a, b) for a, b in pairs if (a.gold_spans if task.is_spans else a.gold_label)]
    final = teacher_scores(task, [a for a, _ in scored]) if scored else None
    pool = teacher_scores(task, [b for _, b in scored]) if scored else None
    return TeacherContribution(
        teacher_weight=None if neighbour_weight is None else 1.0 - neighbour_weight,
        compared=len(pairs),
        changed=changed,
        pool_model_f1=pool["f1"] if pool else None,
        final_f1=final["f1"] if final else None,
    )


def _answer(task: Task, record: LabelledRecord) -> tuple:
    if task.is_spans:
        return tuple(sorted(s.key() for s in record.spans))
    return (record.label,)
