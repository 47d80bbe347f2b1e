"""Teacher scores against human labels: the same metrics the student is judged by."""

from __future__ import annotations

from dualchecker.agents.types import LabelledRecord, Span, Task, TaskKind
from dualchecker.training.data import CharSpan
from dualchecker.training.metrics import classification_scores, span_exact_f1, token_f1


def _char_spans(spans: list[Span] | None) -> list[CharSpan]:
    return [CharSpan(start=s.start, end=s.end, type=s.type) for s in spans or []]


def teacher_scores(task: Task, labelled: list[LabelledRecord]) -> dict[str, float] | None:
    """Binary: positive-class F1; multiclass: macro-F1; spans: exact-match span F1 (+ token F1).

    Records the teacher failed to label count as wrong. None when no record has a gold answer.
    """
    if task.is_spans:
        scored = [r for r in labelled if r.gold_spans is not None]
        if not scored:
            return None
        gold = [_char_spans(r.gold_spans) for r in scored]
        pred = [_char_spans(r.spans) if r.ok else None for r in scored]
        exact = span_exact_f1(gold, pred)
        tokens = token_f1([r.text for r in scored], gold, pred)
        return {"f1": exact["f1"], "precision": exact["precision"], "recall": exact["recall"],
                "token_f1": tokens["f1"], "n": float(len(scored))}
    scored = [r for r in labelled if r.gold_label is not None]
    if not scored:
        return None
    ids = {name: i for i, name in enumerate(task.label_names)}
    gold = [ids[r.gold_label] for r in scored]
    pred = [ids[r.label] if r.ok and r.label in ids else None for r in scored]
    kind = "binary" if task.kind is TaskKind.BINARY else "multiclass"
    positive = ids[task.positive] if task.positive else 1
    return classification_scores(gold, pred, kind, positive=positive)
