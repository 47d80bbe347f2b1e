"""Calibrate the teacher against the human pool, and measure whether its confidence means anything.

Before labelling, the teacher answers a sample of the human-labelled pool with the run's own
prompt (leave-one-out demonstrations). A multinomial logistic regression on the teacher's
log-probabilities is fitted to the human labels: per-label biases remove the majority-label and
domain-word bias that contextual and batch calibration target, and the scale acts as a
temperature. Optionally the neighbours' label distribution (kNN-prompting style) is a second
feature group, so its weight against the teacher is fitted too. The teacher checker's threshold is
then chosen from cross-validated confidences on the pool by a documented rule (`pick_threshold`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field
from scipy.special import softmax
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from dualchecker.agents.shared_scaling import as_linear, fit_shared

EPS = 1e-6
HARM_LEVEL = 0.1  # sign-test level at which the pool's flips switch re-prompting off


class ReliabilityBin(BaseModel):
    """One bar of the reliability diagram: a confidence range, its mean confidence and accuracy."""

    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


class Reliability(BaseModel):
    """How well confidence tracks correctness: ECE, AUROC and the reliability diagram's bins."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    n: int
    accuracy: float
    ece: float
    """Expected calibration error, 10 equal-width bins."""
    auroc: float | None = None
    """AUROC of confidence against correctness (None when all answers are right or all wrong)."""
    bins: list[ReliabilityBin] = Field(default_factory=list)


def reliability(
    confidence: list[float] | np.ndarray, correct: list[bool] | np.ndarray, n_bins: int = 10
) -> Reliability:
    """ECE and AUROC of `confidence` as a predictor of `correct`."""
    conf = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=bool)
    if conf.size == 0:
        return Reliability(n=0, accuracy=0.0, ece=0.0)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        mask = which == b
        if not mask.any():
            continue
        acc, mean_conf = float(right[mask].mean()), float(conf[mask].mean())
        ece += mask.mean() * abs(acc - mean_conf)
        bins.append(
            ReliabilityBin(
                lower=float(edges[b]),
                upper=float(edges[b + 1]),
                count=int(mask.sum()),
                confidence=mean_conf,
                accuracy=acc,
            )
        )
    auroc = float(roc_auc_score(right, conf)) if 0 < right.sum() < right.size else None
    return Reliability(
        n=int(conf.size), accuracy=float(right.mean()), ece=float(ece), auroc=auroc, bins=bins
    )


def features(
    labels: list[str], teacher: dict[str, float], neighbours: dict[str, float] | None
) -> np.ndarray:
    """Centred log-probabilities of the teacher (and of the neighbours' labels, when used)."""
    groups = [teacher] + ([neighbours] if neighbours is not None else [])
    parts = []
    for dist in groups:
        logs = np.log(np.array([max(dist.get(label, 0.0), EPS) for label in labels]))
        parts.append(logs - logs.mean())
    return np.concatenate(parts)


def pick_threshold(confidence: np.ndarray, *, target_accuracy: float, max_rate: float) -> float:
    """The teacher checker's threshold: re-prompt calibrated answers below `target_accuracy`.

    A calibrated confidence is the expected accuracy of the answer, so "below target" is simply
    "confidence under the target". On a teacher whose pool answers are mostly unsure that would
    re-prompt nearly everything, so the threshold is lowered until at most `max_rate` of the
    pool sample (cross-validated confidences) falls under it.
    """
    ordered = np.sort(np.asarray(confidence, dtype=float))
    if ordered.size == 0:
        return target_accuracy
    k = int(math.floor(max_rate * ordered.size))
    cap = float(ordered[k]) if k < ordered.size else 1.0
    return min(target_accuracy, cap)


class RepromptEffect(BaseModel):
    """What re-prompting did to the pool sample's unsure answers, judged against the human labels.

    A small model shown contrastive examples can talk itself out of a right answer as well as
    into one. The pool sample is small (a few dozen re-prompts, a handful of flips), so a count
    of flips either way is mostly noise: re-prompting is switched off only when the pool shows
    it breaks answers significantly more often than it fixes them (one-sided sign test).
    """

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    tried: int
    """Pool answers under the threshold, re-prompted as the run would."""
    wrong_to_right: int
    right_to_wrong: int

    @computed_field
    @property
    def harm_p_value(self) -> float:
        """The chance of this many breaks or more among the flips, were a flip as likely to fix
        an answer as to break it."""
        flips = self.wrong_to_right + self.right_to_wrong
        if flips == 0:
            return 1.0
        return float(binomtest(self.right_to_wrong, flips, 0.5, alternative="greater").pvalue)

    @property
    def harmful(self) -> bool:
        """Significantly more answers broken than fixed (at `HARM_LEVEL`)."""
        return self.harm_p_value < HARM_LEVEL


class Calibration(BaseModel):
    """A fitted map from the teacher's (and neighbours') label distribution to calibrated ones."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    labels: list[str]
    """The task's labels, in the order of the model's rows and columns."""
    use_neighbours: bool
    """Whether the neighbours' label distribution is among the features (kNN-prompting style)."""
    coef: list[list[float]]
    intercept: list[float]
    """A multinomial logistic regression on log-probabilities: one row and intercept a label."""
    threshold: float
    """Teacher checker: re-prompt below this calibrated confidence."""
    pool_raw: Reliability
    """The teacher's own probabilities on the pool sample."""
    pool_calibrated: Reliability
    """Calibrated, cross-validated on the pool sample."""
    pool_verbalised: Reliability | None = None
    neighbour_weight: float | None = None
    """Share of the fitted weight on the neighbours' labels (0 = teacher only)."""
    reprompt_effect: RepromptEffect | None = None
    """Re-prompts tried on the pool sample (None: not judged)."""
    form: str = "full"
    """full, shared, or "equal weights" (too few pool answers to fit anything)."""
    positive: str | None = None
    decision_threshold: float | None = None
    """Binary: say `positive` when its calibrated probability reaches this (chosen for the
    pool's F1); None: the most likely label."""

    @computed_field
    @property
    def reprompt_threshold(self) -> float:
        """The teacher checker's threshold: 0 (never re-prompt for doubt) where re-prompting
        was tried on the pool and did significant harm."""
        if self.reprompt_effect is not None and self.reprompt_effect.harmful:
            return 0.0
        return self.threshold

    def decide(self, probabilities: dict[str, float]) -> str:
        """The label the calibrated distribution stands for (see `decision_threshold`)."""
        if self.decision_threshold is None or self.positive is None:
            return max(probabilities, key=probabilities.__getitem__)
        if probabilities[self.positive] >= self.decision_threshold:
            return self.positive
        return next(label for label in self.labels if label != self.positive)

    def apply(
        self, teacher: dict[str, float], neighbours: dict[str, float] | None
    ) -> dict[str, float]:
        """The calibrated label distribution (`neighbours` is ignored unless the fit used them)."""
        x = features(self.labels, teacher, neighbours if self.use_neighbours else None)
        logits = np.asarray(self.coef) @ x + np.asarray(self.intercept)
        if len(self.labels) == 2 and logits.shape[0] == 1:
            logits = np.array([0.0, logits[0]])
        logits = logits - logits.max()
        p = np.exp(logits) / np.exp(logits).sum()
        return {label: float(v) for label, v in zip(self.labels, p)}


class PoolSample(BaseModel):
    """One pool example as the teacher answered it, with its human label."""

    record_id: str
    gold: str
    teacher: dict[str, float]
    neighbours: dict[str, float] | None = None
    verbalised: float | None = None


CalibrationForm = Literal["full", "shared"]
MIN_FITTED = 20
"""Answered pool examples below which no calibration is fitted: the teacher's and the pool's
log-probabilities are added at equal weight instead (and the run says so)."""


def fit_calibration(
    labels: list[str],
    sample: list[PoolSample],
    *,
    use_neighbours: bool,
    target_accuracy: float = 0.75,
    max_rate: float = 0.3,
    seed: int = 0,
    regularisation: float = 1.0,
    form: CalibrationForm = "full",
    positive: str | None = None,
) -> Calibration:
    """Fit on the pool sample; report reliability before and after (cross-validated).

    `form` "full" is a multinomial logistic regression on every feature, "shared" one weight
    per source and a bias per label (`shared_scaling`). With `positive` (binary tasks) the
    decision threshold on the positive label's calibrated probability is also chosen, on the
    cross-validated probabilities, for the pool's positive-class F1.

    Raises:
        ValueError: the sample holds fewer than two of the labels (nothing to fit).
    """
    y = np.array([labels.index(s.gold) for s in sample])
    if len(set(y.tolist())) < 2:
        raise ValueError("the calibration sample needs examples of at least two labels")
    x = np.stack(
        [features(labels, s.teacher, s.neighbours if use_neighbours else None) for s in sample]
    )
    fallback = len(sample) < MIN_FITTED
    fit = _fixed if fallback else (_shared if form == "shared" else _full(regularisation))
    proba = _cross_validated(fit, x, y, len(labels), seed)
    coef, intercept = fit(x, y, len(labels))
    raw = np.array([[s.teacher.get(label, 0.0) for label in labels] for s in sample])
    raw_pick, cal_pick, cal_conf = raw.argmax(axis=1), proba.argmax(axis=1), proba.max(axis=1)
    stated = [
        (s.verbalised, raw_pick[i] == y[i])
        for i, s in enumerate(sample)
        if s.verbalised is not None
    ]
    cut = labels.index(positive) if positive in labels and len(labels) == 2 else None
    return Calibration(
        labels=labels,
        use_neighbours=use_neighbours,
        coef=coef,
        intercept=intercept,
        threshold=pick_threshold(cal_conf, target_accuracy=target_accuracy, max_rate=max_rate),
        pool_raw=reliability(raw.max(axis=1), raw_pick == y),
        pool_calibrated=reliability(cal_conf, cal_pick == y),
        pool_verbalised=reliability([v for v, _ in stated], [r for _, r in stated])
        if stated
        else None,
        neighbour_weight=_neighbour_weight(np.asarray(coef), len(labels))
        if use_neighbours
        else None,
        form="equal weights" if fallback else form,
        positive=positive if cut is not None else None,
        decision_threshold=best_f1_threshold(proba[:, cut], y == cut) if cut is not None else None,
    )


def _neighbour_weight(coef: np.ndarray, n_labels: int) -> float:
    """Share of the absolute fitted weight on the pool's features (the second K columns)."""
    teacher_w, pool_w = np.abs(coef[:, :n_labels]).sum(), np.abs(coef[:, n_labels:]).sum()
    return float(pool_w / (teacher_w + pool_w)) if teacher_w + pool_w > 0 else 0.0


def best_f1_threshold(p_positive: np.ndarray, is_positive: np.ndarray) -> float:
    """The cut on the positive label's probability with the best F1 on these examples."""
    best, best_f1 = 0.5, -1.0
    for t in np.unique(np.round(p_positive, 4)):
        pred = p_positive >= t
        tp = float((pred & is_positive).sum())
        f1 = 2 * tp / max(pred.sum() + is_positive.sum(), 1)
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


def _full(regularisation: float):
    def fit(x: np.ndarray, y: np.ndarray, n_labels: int) -> tuple[list, list]:
        model = LogisticRegression(C=regularisation, max_iter=2000).fit(x, y)
        return _expand(model, n_labels)

    return fit


def _shared(x: np.ndarray, y: np.ndarray, n_labels: int) -> tuple[list, list]:
    return as_linear(*fit_shared(x, y, n_labels), n_labels)


def _fixed(x: np.ndarray, y: np.ndarray, n_labels: int) -> tuple[list, list]:
    """No fit: every source's log-probabilities at weight 1, no bias."""
    groups = x.shape[1] // n_labels
    return as_linear(np.ones(groups), np.zeros(n_labels), n_labels)


def _cross_validated(fit, x: np.ndarray, y: np.ndarray, n_labels: int, seed: int) -> np.ndarray:
    """Each example's calibrated probabilities from a fit without it (5 folds, stratified;
    in-sample when a label has a single example)."""
    folds = min(5, int(np.bincount(y)[np.bincount(y) > 0].min()))
    if folds < 2:
        return _predict(*fit(x, y, n_labels), x)
    proba = np.zeros((len(y), n_labels))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in cv.split(x, y):
        proba[test] = _predict(*fit(x[train], y[train], n_labels), x[test])
    return proba


def _predict(coef: list, intercept: list, x: np.ndarray) -> np.ndarray:
    """Probabilities of a (coef, intercept) pair; a one-row binary fit is the second label's
    logit against 0, as in `Calibration.apply`."""
    logits = x @ np.asarray(coef).T + np.asarray(intercept)
    if logits.shape[1] == 1:
        logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
    return softmax(logits, axis=1)


def _expand(model: LogisticRegression, n_labels: int) -> tuple[list[list[float]], list[float]]:
    """Coefficients as one row per label (a binary fit has one row; labels never seen get -inf-ish)."""
    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    classes = list(model.classes_)
    if coef.shape[0] == 1:
        if n_labels == 2 and classes == [0, 1]:
            return coef.tolist(), intercept.tolist()
        full = np.zeros((n_labels, coef.shape[1]))
        bias = np.full(n_labels, -20.0)
        full[classes[1]], bias[classes[1]], bias[classes[0]] = coef[0], intercept[0], 0.0
        return full.tolist(), bias.tolist()
    full = np.zeros((n_labels, coef.shape[1]))
    bias = np.full(n_labels, -20.0)
    for row, cls in enumerate(classes):
        full[cls], bias[cls] = coef[row], intercept[row]
    return full.tolist(), bias.tolist()
