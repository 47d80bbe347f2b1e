"""Calibrate span answers against the human pool: which candidate spans to keep, and how sure.

The candidates of a record are the teacher's quotes and the pool tagger's spans (`SpanProbe`).
Each candidate is described by what both sources say about it (its probability under each, and
how much it overlaps the other source's spans of its type), and a logistic regression fitted on
pool examples, answered by the run's own prompt, gives the probability that it is a human span.
Candidates above the threshold that maximises span F1 on the pool (cross-validated) are kept;
overlapping spans of one type keep the likelier. The record's confidence is the probability that
its kept set is exactly right, and the teacher checker's threshold is picked from it as for labels.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, computed_field
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict

from dualchecker.agents.calibration import Reliability, pick_threshold, reliability
from dualchecker.agents.types import Span
from dualchecker.training.metrics import span_exact_f1

FEATURES = (
    "tagger probability",
    "tagger proposed",
    "teacher probability",
    "teacher quoted",
    "overlap with the teacher's spans",
    "overlap with the tagger's spans",
)
TEACHER_FEATURES = (2, 3, 4)


def _overlap(span: Span, others: list[Span]) -> float:
    """The largest character Jaccard overlap of `span` with a different span of its type."""
    best = 0.0
    for other in others:
        if other.type != span.type or other.key() == span.key():
            continue
        inter = min(span.end, other.end) - max(span.start, other.start)
        if inter > 0:
            union = max(span.end, other.end) - min(span.start, other.start)
            best = max(best, inter / union)
    return best


def candidates(teacher: list[Span], tagger: list[Span]) -> list[tuple[Span, np.ndarray]]:
    """Every distinct (type, start, end) either source proposed, with its feature vector."""
    by_teacher = {s.key(): s for s in teacher}
    by_tagger = {s.key(): s for s in tagger}
    out = []
    for key in sorted(by_teacher.keys() | by_tagger.keys()):
        t, g = by_teacher.get(key), by_tagger.get(key)
        span = (g or t).model_copy(update={"confidence": None})
        out.append(
            (
                span,
                np.array(
                    [
                        (g.confidence or 0.0) if g else 0.0,
                        float(g is not None),
                        (t.confidence if t.confidence is not None else 0.5) if t else 0.0,
                        float(t is not None),
                        _overlap(span, teacher),
                        _overlap(span, tagger),
                    ]
                ),
            )
        )
    return out


def select(scored: list[tuple[Span, float]], keep: float) -> tuple[list[Span], float]:
    """Spans at or above `keep` (one of any overlapping pair of a type: the likelier) and the
    probability that this set is exactly right, the candidates taken as independent."""
    kept: list[Span] = []
    for span, p in sorted(scored, key=lambda pair: -pair[1]):
        if p < keep:
            break
        if any(
            k.type == span.type and min(k.end, span.end) > max(k.start, span.start) for k in kept
        ):
            continue
        kept.append(span.model_copy(update={"confidence": p}))
    chosen = {s.key() for s in kept}
    confidence = float(np.prod([p if s.key() in chosen else 1.0 - p for s, p in scored]))
    return sorted(kept, key=lambda s: (s.start, s.type)), confidence


def span_f1(predicted: list[list[Span]], gold: list[list[Span]]) -> float:
    """Micro exact-match F1 over (type, start, end), as the run scores spans."""
    return span_exact_f1(gold, predicted)["f1"]


class SpanSample(BaseModel):
    """One pool example as the teacher and the tagger answered it, with its human spans."""

    record_id: str
    gold: list[Span]
    teacher: list[Span]
    teacher_confidence: float
    tagger: list[Span]


class SpanCalibration(BaseModel):
    """The fitted candidate scorer, its keep threshold and the teacher checker's threshold."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    coef: list[float]
    intercept: float
    keep: float
    """Keep candidates at or above this calibrated probability."""
    threshold: float
    """Teacher checker: re-prompt below this confidence."""
    pool_raw: Reliability
    """The teacher's own span confidence on the pool."""
    pool_calibrated: Reliability
    """Combined, cross-validated on the pool."""
    pool_f1: dict[str, float]
    """Span F1 on the pool sample: teacher alone, tagger alone, combined (CV)."""
    neighbour_weight: float
    """Share of the fitted weight on the tagger's features (0 = teacher only)."""

    @computed_field
    @property
    def reprompt_threshold(self) -> float:
        """The teacher checker's threshold (span re-prompts are not judged on the pool)."""
        return self.threshold

    def score(self, teacher: list[Span], tagger: list[Span]) -> list[tuple[Span, float]]:
        """Every candidate with its calibrated probability of being a human span."""
        found = candidates(teacher, tagger)
        if not found:
            return []
        x = np.stack([f for _, f in found])
        p = 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.coef) + self.intercept)))
        return [(span, float(q)) for (span, _), q in zip(found, p)]

    def apply(self, teacher: list[Span], tagger: list[Span]) -> tuple[list[Span], float]:
        """The calibrated answer: kept spans and the probability that they are exactly right."""
        return select(self.score(teacher, tagger), self.keep)


def fit_span_calibration(
    sample: list[SpanSample],
    *,
    target_accuracy: float = 0.75,
    max_rate: float = 0.3,
    regularisation: float = 1.0,
) -> SpanCalibration:
    """Fit on the pool sample; report F1 and reliability before and after (cross-validated).

    Raises:
        ValueError: too few candidates, or none (or all) of them human spans.
    """
    found = [candidates(s.teacher, s.tagger) for s in sample]
    rows, groups, y = [], [], []
    for i, (s, pairs) in enumerate(zip(sample, found)):
        gold = {g.key() for g in s.gold}
        for span, x in pairs:
            rows.append(x)
            groups.append(i)
            y.append(int(span.key() in gold))
    if len(rows) < 10 or len(set(y)) < 2:
        raise ValueError("the calibration sample needs candidate spans both right and wrong")
    x, y_arr = np.stack(rows), np.array(y)
    model = LogisticRegression(C=regularisation, max_iter=2000)
    folds = min(5, len(sample))
    held = cross_val_predict(
        model, x, y_arr, cv=GroupKFold(folds), groups=groups, method="predict_proba"
    )[:, 1]
    model.fit(x, y_arr)
    per_sample: list[list[tuple[Span, float]]] = []
    row = 0
    for pairs in found:  # the held-out probabilities, back in each sample's candidates
        per_sample.append([(span, float(held[row + j])) for j, (span, _) in enumerate(pairs)])
        row += len(pairs)
    gold = [s.gold for s in sample]
    grid = sorted({0.5, *np.round(np.linspace(0.05, 0.95, 19), 2).tolist()})
    f1_at = {k: span_f1([select(c, k)[0] for c in per_sample], gold) for k in grid}
    keep = max(grid, key=lambda k: (f1_at[k], -abs(k - 0.5)))
    chosen = [select(c, keep) for c in per_sample]
    right = [
        {a.key() for a in spans} == {g.key() for g in s.gold}
        for (spans, _), s in zip(chosen, sample)
    ]
    confidence = np.array([c for _, c in chosen])
    teacher_right = [{a.key() for a in s.teacher} == {g.key() for g in s.gold} for s in sample]
    coef = np.asarray(model.coef_[0])
    teacher_w = np.abs(coef[list(TEACHER_FEATURES)]).sum()
    return SpanCalibration(
        coef=coef.tolist(),
        intercept=float(model.intercept_[0]),
        keep=float(keep),
        threshold=pick_threshold(confidence, target_accuracy=target_accuracy, max_rate=max_rate),
        pool_raw=reliability([s.teacher_confidence for s in sample], teacher_right),
        pool_calibrated=reliability(confidence, right),
        pool_f1={
            "teacher": span_f1([s.teacher for s in sample], gold),
            "tagger": span_f1([s.tagger for s in sample], gold),
            "combined": f1_at[keep],
        },
        neighbour_weight=float(1.0 - teacher_w / np.abs(coef).sum()) if np.abs(coef).sum() else 0.0,
    )
