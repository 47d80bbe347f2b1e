"""Build the student's tokenizer and model from a config (HF id or local folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    PreTrainedModel,
)
from transformers.utils import logging as hf_logging

from .config import StudentConfig
from .errors import StudentError


def resolve_device(device: str) -> torch.device:
    """'auto' means CUDA when present; asking for CUDA without one is an error, not a fallback."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise StudentError("device='cuda' requested but no CUDA device is available")
    return torch.device(device)


def load_tokenizer(model: str):
    """A fast tokenizer: span tasks need its character offsets."""
    tokenizer = AutoTokenizer.from_pretrained(model)
    if not tokenizer.is_fast:
        raise StudentError(f"{model}: the student needs a fast tokenizer (offset mapping)")
    if tokenizer.pad_token_id is None:
        raise StudentError(f"{model}: tokenizer has no pad token")
    return tokenizer


def load_model(config: StudentConfig, tag_names: list[str]) -> PreTrainedModel:
    """Encoder plus a fresh (or saved) head sized for the task's classes or BIO tags.

    The new head is missing from the checkpoint by design; transformers reports that as a
    "MISSING" table on every load, which reads like an error, so it is silenced unless
    ``DUALCHECKER_VERBOSE=1`` (the CLI's ``--verbose``).
    """
    if config.task == "spans":
        names = tag_names
        auto = AutoModelForTokenClassification
    else:
        names = [str(i) for i in range(config.num_labels)]
        auto = AutoModelForSequenceClassification
    with quiet_transformers():
        return auto.from_pretrained(
            config.model,
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)},
        )


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' load reports down to errors for the block, unless DUALCHECKER_VERBOSE=1."""
    if os.environ.get("DUALCHECKER_VERBOSE") == "1":
        yield
        return
    before = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()  # "Loading weights" bars, in Ray workers too
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
        if bars:
            hf_logging.enable_progress_bar()
