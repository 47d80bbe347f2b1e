"""A probability for every label, read from the model instead of asked of it.

A small model's verbalised confidence tracks its label, not its doubt. The distribution over the
next answer token does not have that problem, so classification reads it where the backend can:
- the embedded llama.cpp model scores every label's whole continuation after ``Answer:`` in one
  prompt pass (``label_logprobs`` in the reply's metadata);
- OpenAI-compatible servers (OpenAI, vLLM, llama.cpp's server) return ``top_logprobs`` for the
  first answer token, which is mapped onto the labels (shown as short codes when two labels could
  begin with the same token);
- a backend with neither falls back to agreement over k samples, and with k = 1 to the number the
  model states. Every reading says which of the three produced it.
"""

from __future__ import annotations

import math
import string
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ConfidenceSource = Literal["token_probability", "sample_agreement", "verbalised"]
# Labels the model never named get this much probability mass before normalising, so one
# unmatched label is "unlikely", not "impossible" (log 0 would break calibration).
FLOOR_PROBABILITY = 1e-4


class LabelReading(BaseModel):
    """One reading of the teacher: a normalised distribution over the task's labels."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    probabilities: dict[str, float]
    source: ConfidenceSource
    verbalised: float | None = None
    """The number the model stated, when asked."""

    @property
    def label(self) -> str:
        """The most probable label."""
        return max(self.probabilities, key=self.probabilities.__getitem__)


def normalise(weights: dict[str, float]) -> dict[str, float]:
    """Scale non-negative weights to sum to one (uniform when all are zero)."""
    total = sum(weights.values())
    if total <= 0:
        return {k: 1.0 / len(weights) for k in weights}
    return {k: v / total for k, v in weights.items()}


def from_label_logprobs(logprobs: dict[str, float], labels: list[str]) -> dict[str, float]:
    """Softmax over each label's continuation log-probability (a distribution over the labels)."""
    top = max(logprobs[label] for label in labels)
    return normalise({label: math.exp(logprobs[label] - top) for label in labels})


def label_codes(labels: list[str]) -> dict[str, str] | None:
    """Short codes for labels that a first token could not tell apart, else None.

    Two labels sharing their first three characters (``clean_water`` / ``clean_energy``) may share
    a first token, so the prompt then shows codes 1..9, A..Z and the model answers with the code.
    """
    heads = [label.strip().lower()[:3] for label in labels]
    if len(set(heads)) == len(heads):
        return None
    symbols = "123456789" + string.ascii_uppercase
    if len(labels) > len(symbols):
        raise ValueError(f"too many labels for one-token codes: {len(labels)}")
    return {label: symbols[i] for i, label in enumerate(labels)}


def _token_key(token: str) -> str:
    return token.strip().strip("\"'`*:.").lower()


def from_top_logprobs(
    top: list[dict[str, Any]], labels: list[str], codes: dict[str, str] | None = None
) -> dict[str, float] | None:
    """Map the first answer token's ``top_logprobs`` onto the labels; None when none matches.

    A token counts for a label when it is a non-empty start of the label's name (or its code);
    its probability is added to that label. A token that starts several labels is ambiguous and
    ignored (codes exist to avoid it).
    """
    names = {label: (codes[label] if codes else label).lower() for label in labels}
    mass = dict.fromkeys(labels, 0.0)
    matched = False
    for entry in top:
        key = _token_key(str(entry.get("token", "")))
        if not key:
            continue
        hits = [label for label, name in names.items() if name.startswith(key)]
        if len(hits) == 1:
            mass[hits[0]] += math.exp(float(entry["logprob"]))
            matched = True
    if not matched:
        return None
    return normalise({label: max(p, FLOOR_PROBABILITY) for label, p in mass.items()})


def first_token_top_logprobs(metadata: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The ``top_logprobs`` of the first content token in an OpenAI-style reply, if any."""
    logprobs = (metadata or {}).get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    first = content[0]
    top = first.get("top_logprobs") or []
    return top or [{"token": first.get("token", ""), "logprob": first.get("logprob", 0.0)}]


def from_samples(labels_said: list[str | None], labels: list[str]) -> dict[str, float] | None:
    """Agreement over k sampled answers: each label's share of the valid samples."""
    counts = Counter(label for label in labels_said if label is not None)
    if not counts:
        return None
    return normalise({label: counts.get(label, 0) + FLOOR_PROBABILITY for label in labels})


def parse_stated_number(text: str | None) -> float | None:
    """A stated confidence like "85", "85%" or "0.85" as 0..1; None when it is not a number."""
    if not text:
        return None
    token = text.strip().split()[0].rstrip("%.,") if text.strip() else ""
    try:
        value = float(token)
    except ValueError:
        return None
    if 0.0 <= value <= 1.0:
        return value
    if 1.0 < value <= 100.0:
        return value / 100.0
    return None
