"""What the human pool says on its own: the baseline every teacher label has to beat.

A logistic regression on the pool's sentence embeddings (the retrieval encoder's), the same
model a user would fit on their labels before trying an LLM. For binary tasks the decision
threshold is tuned out-of-fold on the pool for positive-class F1, so the baseline is as strong
as the pool allows. It labels the inputs for two purposes: the share of final labels the teacher
changed, and the self-training baseline (the student on the pool plus these labels).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from dualchecker.agents.aligner import ExampleIndex
from dualchecker.agents.types import LabelledRecord, Record, Task


class PoolClassifier:
    """Logistic regression on the pool's embeddings; `threshold` is the binary cut-off chosen
    out-of-fold on the pool (0.5 when the pool is too small to tune it)."""

    def __init__(self, task: Task, index: ExampleIndex, *, seed: int = 0):
        self.task, self.index = task, index
        rows = [i for i, r in enumerate(index.examples) if r.label in task.label_names]
        labels = [index.examples[i].label for i in rows]
        if len(set(labels)) < 2:
            raise ValueError("the pool needs human labels of at least two classes")
        x, y = index.matrix[rows], np.array([task.label_names.index(v) for v in labels])
        self.model = LogisticRegression(max_iter=2000).fit(x, y)
        self.classes = [int(c) for c in self.model.classes_]
        self.threshold = self._tune_threshold(x, y, seed) if self._binary else 0.5

    @property
    def _binary(self) -> bool:
        return len(self.task.label_names) == 2 and self.task.positive is not None

    def _tune_threshold(self, x: np.ndarray, y: np.ndarray, seed: int) -> float:
        folds = min(5, int(np.bincount(y).min()))
        if folds < 2:
            return 0.5
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        positive = self.task.label_names.index(self.task.positive)
        held = cross_val_predict(
            LogisticRegression(max_iter=2000), x, y, cv=cv, method="predict_proba"
        )
        p = held[:, self.classes.index(positive)]
        grid = np.unique(np.round(p, 3))
        scores = [f1_score(y == positive, p >= t, zero_division=0) for t in grid]
        return float(grid[int(np.argmax(scores))])

    def distribution(self, record: Record) -> dict[str, float]:
        """The pool model's label probabilities for one text."""
        vector = self.index.vector(record)
        p = self.model.predict_proba(vector[None, :])[0]
        out = dict.fromkeys(self.task.label_names, 0.0)
        for column, cls in enumerate(self.classes):
            out[self.task.label_names[cls]] = float(p[column])
        return out

    def label(self, record: Record) -> tuple[str, float]:
        """The pool model's label (binary: at the tuned threshold) and its probability."""
        dist = self.distribution(record)
        if self._binary:
            positive = self.task.positive
            other = next(v for v in self.task.label_names if v != positive)
            choice = positive if dist[positive] >= self.threshold else other
        else:
            choice = max(dist, key=dist.__getitem__)
        return choice, dist[choice]

    def answer(self, records: list[Record]) -> list[LabelledRecord]:
        """The pool model's answer to each record, as labelled records (gold kept for scoring)."""
        self.index.prefetch(records)
        out = []
        for record in records:
            label, confidence = self.label(record)
            out.append(
                LabelledRecord.answering(
                    record, label=label, confidence=confidence, confidence_source="pool_model"
                )
            )
        return out
