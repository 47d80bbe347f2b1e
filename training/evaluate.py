"""Fine-tune a fresh student and score it on held-out gold: the number the paper reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from .config import StudentConfig
from .data import StudentExample
from .errors import StudentError
from .metrics import classification_scores, span_exact_f1, token_f1
from .prediction import StudentPrediction
from .progress import progress_bar
from .trainer import FitReport, StudentTrainer

logger = logging.getLogger(__name__)


class EvalReport(BaseModel):
    """Scores of one fine-tune; ``f1`` is the headline number for the task."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    f1: float | None
    """Binary: positive-class F1; multiclass: macro-F1; spans: exact-match span F1 (None without
    test data)."""
    scores: dict[str, float]
    """All scores, flat (e.g. 'precision', 'token_f1')."""
    n_train: int
    n_test: int
    train_samples_per_s: float
    train_seconds: float
    predict_seconds: float
    fit: FitReport
    predictions: list[StudentPrediction] = []
    """The student's answer for each test example, in order: what intervals and paired
    comparisons of students resample."""


def score_predictions(
    config: StudentConfig,
    test: Sequence[StudentExample],
    predictions: Sequence[StudentPrediction],
    positive: int = 1,
) -> dict[str, float]:
    """Task-appropriate scores; the key 'f1' is the headline."""
    if config.task == "classification":
        kind = "binary" if config.num_labels == 2 else "multiclass"
        return classification_scores(
            [ex.label for ex in test], [p.label for p in predictions], kind, positive
        )
    gold = [ex.spans for ex in test]
    pred = [p.spans for p in predictions]
    exact = span_exact_f1(gold, pred)
    words = token_f1([ex.text for ex in test], gold, pred)
    return {**exact, **{f"token_{k}": v for k, v in words.items()}}


def train_and_evaluate(
    config: StudentConfig,
    train: Sequence[StudentExample],
    test: Sequence[StudentExample],
    epochs: int | None = None,
    positive: int = 1,
    save_to: str | None = None,
    label_names: list[str] | None = None,
    name: str = "student",
) -> EvalReport:
    """Fit a new student on ``train`` for ``epochs`` (default ``config.final_epochs``), score on ``test``.

    Test items must carry gold labels/spans; a classification test item without a label is
    an error because it cannot be scored. With ``save_to`` the student is saved there as a
    Hugging Face model (its labels named by ``label_names``), loadable with transformers.
    While it trains, a progress bar named `name` counts the epochs (see `training.progress`).
    """
    if not train:
        raise StudentError("no training examples: nothing to fine-tune on")
    if config.task == "classification" and any(ex.label is None for ex in test):
        raise ValueError("every classification test example needs a gold label")
    trainer = StudentTrainer(config)
    total = epochs or config.final_epochs
    with progress_bar(total, f"{name}: fine-tuning", unit="epoch") as advance:
        fit = trainer.fit(train, epochs, on_epoch=lambda done, _total, _loss: advance(done))
    if save_to is not None:
        if label_names and config.task == "classification":
            trainer.model.config.id2label = dict(enumerate(label_names))
            trainer.model.config.label2id = {name: i for i, name in enumerate(label_names)}
        trainer.save(save_to)
    start = time.perf_counter()
    predictions = trainer.predict([ex.text for ex in test]) if test else []
    predict_seconds = time.perf_counter() - start
    scores = score_predictions(config, test, predictions, positive) if test else {}
    if test:
        logger.info(
            "student f1=%.4f on %d test examples (trained on %d)",
            scores["f1"],
            len(test),
            fit.examples,
        )
    return EvalReport(
        f1=scores.get("f1"),
        scores=scores,
        n_train=fit.examples,
        n_test=len(test),
        train_samples_per_s=fit.samples_per_s,
        train_seconds=fit.seconds,
        predict_seconds=predict_seconds,
        fit=fit,
        predictions=predictions,
    )
