"""The loss of a batch whose examples count unequally (human labels at 1, teacher labels less).

Per example the mean cross-entropy over its labelled tokens (one for classification), then the
weighted mean over the batch. A batch whose weights are all 1 keeps the model's own loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import IGNORE_INDEX


def weighted_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy per example, weighted; a batch whose weights are all 0 gives loss 0."""
    if logits.dim() == 2:  # sequence classification: (batch, classes)
        per_example = F.cross_entropy(logits, labels, reduction="none")
    else:  # token classification: (batch, tokens, tags)
        per_token = F.cross_entropy(
            logits.transpose(1, 2), labels, reduction="none", ignore_index=IGNORE_INDEX
        )
        counted = (labels != IGNORE_INDEX).float()
        per_example = (per_token * counted).sum(1) / counted.sum(1).clamp(min=1.0)
    weights = weights.to(per_example.dtype)
    return (per_example * weights).sum() / weights.sum().clamp(min=1e-8)
