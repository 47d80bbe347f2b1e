"""Teacher scores against human labels: the same metrics the student is judged by."""

from __future__ import annotations

import numpy as np

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
        return {
            "f1": exact["f1"],
            "precision": exact["precision"],
            "recall": exact["recall"],
            "token_f1": tokens["f1"],
            "n": float(len(scored)),
        }
    scored = [r for r in labelled if r.gold_label is not None]
    if not scored:
        return None
    ids = {name: i for i, name in enumerate(task.label_names)}
    gold = [ids[r.gold_label] for r in scored]
    pred = [ids[r.label] if r.ok and r.label in ids else None for r in scored]
    kind = "binary" if task.kind is TaskKind.BINARY else "multiclass"
    positive = ids[task.positive] if task.positive else 1
    return classification_scores(gold, pred, kind, positive=positive)


def f1_counts(task: Task, labelled: list[LabelledRecord]) -> np.ndarray:
    """Per record and class: (true positives, false positives, false negatives).

    The same counting as `teacher_scores`, kept per record so that a bootstrap only resamples
    rows and sums: binary counts the positive class, multi-class every label (macro-F1), spans
    exact (type, start, end) matches in one column (micro-F1). A record without an answer
    predicts nothing (binary: the wrong class, as `teacher_scores` counts it).
    """
    if task.is_spans:
        counts = np.zeros((len(labelled), 1, 3))
        for i, r in enumerate(labelled):
            gold = {s.key() for s in r.gold_spans or []}
            pred = {s.key() for s in r.spans} if r.ok else set()
            counts[i, 0] = (len(gold & pred), len(pred - gold), len(gold - pred))
        return counts
    binary = task.kind is TaskKind.BINARY
    labels = [task.positive] if binary else task.label_names
    counts = np.zeros((len(labelled), len(labels), 3))
    for i, r in enumerate(labelled):
        pred = r.label if r.ok else None
        if pred is None and binary:  # as in `teacher_scores`: a miss is the wrong class
            pred = next(label for label in task.label_names if label != r.gold_label)
        for j, label in enumerate(labels):
            counts[i, j] = (
                pred == label and r.gold_label == label,
                pred == label and r.gold_label != label,
                pred != label and r.gold_label == label,
            )
    return counts


def f1_from_counts(totals: np.ndarray) -> float:
    """F1 from summed counts: per class 2tp / (2tp + fp + fn), averaged over the classes that
    occur in gold or predictions (one class for binary and spans)."""
    tp, fp, fn = totals[..., 0], totals[..., 1], totals[..., 2]
    present = (tp + fp + fn) > 0
    if not present.any():
        return 0.0
    f1 = np.where(present, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12), 0.0)
    return float(f1[present].mean())


def bootstrap_f1(
    task: Task,
    records: list[LabelledRecord],
    *,
    against: list[LabelledRecord] | None = None,
    clusters: list[str] | None = None,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Teacher F1 (or its paired difference with `against`, record for record) with a 95%
    percentile bootstrap interval over records.

    `clusters` names each record's unit of resampling: records of one cluster are drawn together.
    Pooling seeds whose samples overlap puts one text in several cells; resampling them as one
    keeps the interval from treating the same text, scored three times, as three texts."""
    mine = f1_counts(task, records)
    other = f1_counts(task, against) if against is not None else None
    point = f1_from_counts(mine.sum(0)) - (
        f1_from_counts(other.sum(0)) if other is not None else 0.0
    )
    if clusters is not None:
        mine, other = (_by_cluster(c, clusters) if c is not None else None for c in (mine, other))
    rng = np.random.default_rng(seed)
    draws = np.empty(reps)
    for k in range(reps):
        idx = rng.integers(0, len(mine), len(mine))
        draws[k] = f1_from_counts(mine[idx].sum(0))
        if other is not None:
            draws[k] -= f1_from_counts(other[idx].sum(0))
    low, high = np.percentile(draws, [2.5, 97.5])
    return point, float(low), float(high)


def _by_cluster(counts: np.ndarray, clusters: list[str]) -> np.ndarray:
    """Per-record F1 counts summed within each cluster (clusters in sorted order)."""
    if len(clusters) != len(counts):
        raise ValueError(f"{len(clusters)} cluster names for {len(counts)} records")
    names, index = np.unique(np.asarray(clusters), return_inverse=True)
    summed = np.zeros((len(names), *counts.shape[1:]))
    np.add.at(summed, index, counts)
    return summed
