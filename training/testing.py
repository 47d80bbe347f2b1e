"""A tiny randomly initialised student for fast tests: MiniLM's tokenizer, a 2-layer BERT body.

It needs no weights download and trains in milliseconds, yet exercises the same code paths
(tokenizer offsets, attention masks, heads) as the real student.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel

from .config import default_student_model


def save_tiny_student(path: str | Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> str:
    """Write a tiny BERT with MiniLM's tokenizer to ``path``; returns it as a model id."""
    path = Path(path)
    tokenizer = AutoTokenizer.from_pretrained(default_student_model())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)
