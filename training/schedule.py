"""Optimiser and learning-rate schedules for the two ways the student trains.

The reference loop built ``warmup=500, total=10`` schedules, so the LR was exactly 0 after 50
batches. Online training here warms up once and then holds the LR; offline training sizes
warmup and decay from the real number of steps.
"""

from __future__ import annotations

import math

import torch
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only (the usual BERT recipe)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if name.endswith(_NO_DECAY) else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr)


def online_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int):
    """Linear warmup over the first ``warmup_steps`` steps of the whole run, then constant."""
    return get_constant_schedule_with_warmup(optimizer, num_warmup_steps=warmup_steps)


def offline_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float):
    """Linear warmup for ``warmup_ratio`` of the steps, then linear decay to 0 at the last step."""
    warmup = math.ceil(total_steps * warmup_ratio)
    return get_linear_schedule_with_warmup(optimizer, warmup, max(total_steps, 1))
