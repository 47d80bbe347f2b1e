"""The student side of distillation: plain data in, a fine-tuned small model and its scores out.

This package never imports the agents or the graph. Ray helpers live in
``dualchecker.training.actor`` (imported on demand, since importing Ray is slow).
"""

from .config import StudentConfig, default_student_model
from .data import CharSpan, StudentExample, bio_tag_names, spans_to_token_tags, token_tags_to_spans
from .errors import StudentError, StudentTimeoutError
from .evaluate import EvalReport, score_predictions, train_and_evaluate
from .metrics import binary_f1, classification_scores, macro_f1, span_exact_f1, token_f1
from .prediction import StudentPrediction
from .replay import ReplayBuffer
from .trainer import FitReport, StudentTrainer

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
