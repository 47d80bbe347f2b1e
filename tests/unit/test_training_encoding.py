"""Batching: every example once per epoch, similar lengths together, padding masked out."""

from __future__ import annotations

import torch

from dualchecker.training.data import IGNORE_INDEX
from dualchecker.training.encoding import Encoded, collate, shuffled_batches


def test_each_index_once_per_epoch_and_reproducible():
    lengths = [(i * 37) % 50 + 3 for i in range(100)]
    batches = shuffled_batches(lengths, 8, torch.Generator().manual_seed(1), group_by_length=True)
    assert sorted(j for b in batches for j in b) == list(range(100))
    again = shuffled_batches(lengths, 8, torch.Generator().manual_seed(1), group_by_length=True)
    assert batches == again


def test_grouping_by_length_cuts_padding():
    lengths = [(i * 37) % 50 + 3 for i in range(256)]

    def padded(group: bool) -> int:
        batches = shuffled_batches(
            lengths, 8, torch.Generator().manual_seed(0), group_by_length=group
        )
        return sum(max(lengths[j] for j in b) * len(b) for b in batches)

    assert padded(True) < 0.7 * padded(False)


def test_collate_masks_padding_and_ignores_its_labels():
    batch = [
        Encoded([101, 7, 102], [(0, 0), (0, 1), (0, 0)], [IGNORE_INDEX, 1, IGNORE_INDEX]),
        Encoded([101, 102], [(0, 0), (0, 0)], [IGNORE_INDEX, IGNORE_INDEX]),
    ]
    out = collate(batch, pad_id=0)
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert out["labels"][1, 2] == IGNORE_INDEX and out["input_ids"][1, 2] == 0
    assert collate([Encoded([1], [(0, 1)], 1)], pad_id=0)["labels"].tolist() == [1]
