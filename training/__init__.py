"""The student side of distillation: plain data in, a fine-tuned small model and its scores out.

This package never imports the agents or the graph. Ray helpers live in
``dualchecker.training.actor`` (imported on demand, since importing Ray is slow).
"""

from importlib import import_module
from typing import Any

# Names resolve on first use: importing the package (e.g. for metrics) must not load torch.
_HOME = {
    "StudentConfig": "config",
    "default_student_model": "config",
    "CharSpan": "data",
    "StudentExample": "data",
    "bio_tag_names": "data",
    "spans_to_token_tags": "data",
    "token_tags_to_spans": "data",
    "StudentError": "errors",
    "StudentTimeoutError": "errors",
    "EvalReport": "evaluate",
    "score_predictions": "evaluate",
    "train_and_evaluate": "evaluate",
    "binary_f1": "metrics",
    "classification_scores": "metrics",
    "macro_f1": "metrics",
    "span_exact_f1": "metrics",
    "token_f1": "metrics",
    "StudentPrediction": "prediction",
    "ReplayBuffer": "replay",
    "FitReport": "trainer",
    "StudentTrainer": "trainer",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(name)
    return getattr(import_module(f".{_HOME[name]}", __name__), name)


__all__ = [
    "CharSpan",
    "EvalReport",
    "FitReport",
    "ReplayBuffer",
    "StudentConfig",
    "StudentError",
    "StudentExample",
    "StudentPrediction",
    "StudentTimeoutError",
    "StudentTrainer",
    "bio_tag_names",
    "binary_f1",
    "classification_scores",
    "default_student_model",
    "macro_f1",
    "score_predictions",
    "span_exact_f1",
    "spans_to_token_tags",
    "token_f1",
    "token_tags_to_spans",
    "train_and_evaluate",
]
