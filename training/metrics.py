"""Scores over plain lists, shared by student and teacher evaluation.

A missing prediction (``None``: the teacher's answer could not be parsed, the student was not
asked) is always an error, never dropped: dropping it would reward failing on hard items.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from sklearn.metrics import accuracy_score, precision_recall_fscore_support

from .data import CharSpan

_WORD = re.compile(r"\S+")


def _fill_missing(gold: Sequence[int], pred: Sequence[int | None], binary: bool) -> list[int]:
    """Replace each None with a wrong label.

    Binary: the opposite class, so a miss costs recall on positives and precision on negatives.
    Multiclass: a class id used nowhere, so it counts against its gold class only.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} items but pred has {len(pred)}")
    unused = max([*gold, *(p for p in pred if p is not None), 0]) + 1
    return [(1 - g if binary else unused) if p is None else p for g, p in zip(gold, pred)]


def _binary_prf(
    gold: Sequence[int], pred: Sequence[int | None], positive: int
) -> tuple[float, float, float]:
    is_pos = [int(g == positive) for g in gold]
    said_pos = [None if p is None else int(p == positive) for p in pred]
    p, r, f, _ = precision_recall_fscore_support(
        is_pos,
        _fill_missing(is_pos, said_pos, binary=True),
        average="binary",
        pos_label=1,
        zero_division=0,
    )
    return float(p), float(r), float(f)


def binary_f1(gold: Sequence[int], pred: Sequence[int | None], positive: int = 1) -> float:
    """F1 of the positive class; a None counts as the wrong answer."""
    return _binary_prf(gold, pred, positive)[2]


def macro_f1(gold: Sequence[int], pred: Sequence[int | None]) -> float:
    """Unweighted mean of per-class F1 over the classes present in gold or predictions."""
    filled = _fill_missing(gold, pred, binary=False)
    labels = sorted(set(gold) | {p for p in pred if p is not None})
    _, _, f, _ = precision_recall_fscore_support(
        gold, filled, labels=labels, average="macro", zero_division=0
    )
    return float(f)


def classification_scores(
    gold: Sequence[int],
    pred: Sequence[int | None],
    kind: Literal["binary", "multiclass"],
    positive: int = 1,
) -> dict[str, float]:
    """Headline ``f1`` (positive-class F1 if binary, macro-F1 if multiclass) with P/R/accuracy."""
    filled = _fill_missing(gold, pred, binary=False)
    scores = {
        "accuracy": float(accuracy_score(gold, filled)) if gold else 0.0,
        "macro_f1": macro_f1(gold, pred),
        "n": float(len(gold)),
        "missing": float(sum(p is None for p in pred)),
    }
    if kind == "binary":
        p, r, f = _binary_prf(gold, pred, positive)
    else:
        labels = sorted(set(gold) | {x for x in pred if x is not None})
        p, r, f, _ = precision_recall_fscore_support(
            gold, filled, labels=labels, average="macro", zero_division=0
        )
    return {"f1": float(f), "precision": float(p), "recall": float(r), **scores}


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": float(tp),
        "n_pred": float(n_pred),
        "n_gold": float(n_gold),
    }


def span_exact_f1(
    gold: Sequence[Sequence[CharSpan]], pred: Sequence[Sequence[CharSpan] | None]
) -> dict[str, float]:
    """Micro P/R/F1 where a predicted span counts only if (start, end, type) equals a gold span.

    Spans are compared as sets per text (duplicates count once); a None prediction is a text
    with no spans, so all its gold spans are missed.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} items but pred has {len(pred)}")
    tp = n_pred = n_gold = 0
    for g, p in zip(gold, pred):
        gold_keys, pred_keys = {s.key() for s in g}, {s.key() for s in p or []}
        tp += len(gold_keys & pred_keys)
        n_pred += len(pred_keys)
        n_gold += len(gold_keys)
    return _prf(tp, n_pred, n_gold)


def word_tags(text: str, spans: Sequence[CharSpan] | None) -> list[str]:
    """One tag per whitespace-separated word: the type of the first span overlapping it, or 'O'."""
    ordered = sorted(spans or [], key=lambda s: (s.start, -s.end))
    tags = []
    for word in _WORD.finditer(text):
        hit = next((s.type for s in ordered if s.start < word.end() and s.end > word.start()), "O")
        tags.append(hit)
    return tags


def token_f1(
    texts: Sequence[str],
    gold: Sequence[Sequence[CharSpan]],
    pred: Sequence[Sequence[CharSpan] | None],
) -> dict[str, float]:
    """Word-level micro P/R/F1 over span types (B/I merged), computed with scikit-learn.

    Words are whitespace-separated (model-independent, so teachers and students with any
    tokenizer are scored alike). Every word counts, including gold-'O' words, so tagging
    outside the gold spans costs precision (the reference code ignored those words).
    """
    if not len(texts) == len(gold) == len(pred):
        raise ValueError("texts, gold and pred must have the same length")
    gold_tags, pred_tags = [], []
    for text, g, p in zip(texts, gold, pred):
        gold_tags += word_tags(text, g)
        pred_tags += word_tags(text, p)
    types = sorted({t for t in gold_tags + pred_tags if t != "O"})
    if not types:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    p, r, f, _ = precision_recall_fscore_support(
        gold_tags, pred_tags, labels=types, average="micro", zero_division=0
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}
