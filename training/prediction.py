"""What the student says about a text, decoded from model logits."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from pydantic import BaseModel, Field

from .data import CharSpan, Offset, token_tags_to_spans


class StudentPrediction(BaseModel):
    """The student's answer for one text.

    ``confidence`` is the max class probability (classification) or the mean over real tokens
    of each token's max tag probability (spans); the student checker ranks hard cases by it.
    """

    label: int | None = None
    probs: list[float] | None = None
    spans: list[CharSpan] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)


def decode_classification(logits: torch.Tensor) -> list[StudentPrediction]:
    """Arg-max label and softmax probabilities per row of ``[batch, num_labels]`` logits."""
    probs = torch.softmax(logits.float(), dim=-1).cpu()
    conf, labels = probs.max(dim=-1)
    return [
        StudentPrediction(label=int(lab), probs=row.tolist(), confidence=float(c))
        for lab, row, c in zip(labels, probs, conf, strict=True)
    ]


def decode_spans(
    logits: torch.Tensor, offsets: list[list[Offset]], id2tag: Mapping[int, str]
) -> list[StudentPrediction]:
    """Spans from arg-max tags of ``[batch, tokens, tags]`` logits; padding and special tokens ignored."""
    probs = torch.softmax(logits.float(), dim=-1).cpu()
    max_prob, tag_ids = probs.max(dim=-1)
    predictions = []
    for row_ids, row_prob, row_offsets in zip(tag_ids, max_prob, offsets, strict=True):
        n = len(row_offsets)
        real = [i for i, (s, e) in enumerate(row_offsets) if e > s]
        confidence = float(row_prob[real].mean()) if real else 1.0
        spans = [
            span.model_copy(update={"confidence": _span_confidence(span, row_offsets, row_prob)})
            for span in token_tags_to_spans(row_offsets, row_ids[:n].tolist(), id2tag)
        ]
        predictions.append(StudentPrediction(spans=spans, confidence=min(confidence, 1.0)))
    return predictions


def _span_confidence(span: CharSpan, offsets: list[Offset], token_prob: torch.Tensor) -> float:
    """Mean probability of the tags the span was read from (its tokens inside start..end)."""
    inside = [i for i, (s, e) in enumerate(offsets) if e > s and s >= span.start and e <= span.end]
    return min(float(token_prob[inside].mean()), 1.0) if inside else 0.0
