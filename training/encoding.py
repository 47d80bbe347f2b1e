"""Tokenise once, pad per batch: every batch carries an attention mask and the real pad id.

The reference student padded with id 0 and passed no attention mask, so padding changed its
predictions; here padding is invisible to the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from .data import IGNORE_INDEX, Offset, StudentExample, spans_to_token_tags


@dataclass(frozen=True)
class Encoded:
    """One tokenised text; ``label`` is a class id, a tag-id list, or None (predict only)."""

    input_ids: list[int]
    offsets: list[Offset]
    label: int | list[int] | None = None
    weight: float = 1.0


def encode_texts(tokenizer, texts: Sequence[str], max_length: int) -> list[Encoded]:
    """Tokenise without padding, keeping character offsets for span decoding."""
    out = tokenizer(
        list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True
    )
    return [
        Encoded(input_ids=ids, offsets=[tuple(o) for o in offs])
        for ids, offs in zip(out["input_ids"], out["offset_mapping"], strict=True)
    ]


def encode_examples(
    tokenizer,
    examples: Sequence[StudentExample],
    max_length: int,
    tag2id: Mapping[str, int] | None = None,
) -> list[Encoded]:
    """Attach labels: the class id, or BIO tag ids when ``tag2id`` is given (span tasks)."""
    encoded = encode_texts(tokenizer, [ex.text for ex in examples], max_length)
    labelled = []
    for enc, ex in zip(encoded, examples, strict=True):
        label = ex.label if tag2id is None else spans_to_token_tags(enc.offsets, ex.spans, tag2id)
        labelled.append(Encoded(enc.input_ids, enc.offsets, label, ex.weight))
    return labelled


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest item; padded positions get mask 0 and label ``IGNORE_INDEX``."""
    ids = [torch.tensor(e.input_ids, dtype=torch.long) for e in batch]
    out = {
        "input_ids": pad_sequence(ids, batch_first=True, padding_value=pad_id),
        "attention_mask": pad_sequence(
            [torch.ones_like(i) for i in ids], batch_first=True, padding_value=0
        ),
    }
    labels = [e.label for e in batch]
    if all(isinstance(label, int) for label in labels):
        out["labels"] = torch.tensor(labels, dtype=torch.long)
    elif all(isinstance(label, list) for label in labels):
        tags = [torch.tensor(label, dtype=torch.long) for label in labels]
        out["labels"] = pad_sequence(tags, batch_first=True, padding_value=IGNORE_INDEX)
    if "labels" in out and any(e.weight != 1.0 for e in batch):
        out["weights"] = torch.tensor([e.weight for e in batch], dtype=torch.float)
    return out


def shuffled_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator, group_by_length: bool
) -> list[list[int]]:
    """Index batches for one epoch, in random order.

    With ``group_by_length``, indices are shuffled, cut into windows of 32 batches, and sorted
    by length inside each window, so a batch pads to similar lengths (much less wasted compute
    on CPU) while batch order and content stay random.
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    if group_by_length:
        window = batch_size * 32
        order = [
            j
            for i in range(0, len(order), window)
            for j in sorted(order[i : i + window], key=lambda k: lengths[k])
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        batches = [batches[k] for k in torch.randperm(len(batches), generator=generator).tolist()]
    return batches
