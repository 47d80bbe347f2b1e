"""What the human pool says about a text's spans: a token tagger fine-tuned on the pool.

For classification the pool's say is a linear probe on sentence embeddings (`ExampleIndex.probe`).
Spans have no such cheap probe: their standard lives in the boundaries (where a cause starts,
whether the effect includes its object), and a small teacher rarely quotes them exactly. A BIO
tagger fine-tuned on the human pool learns the boundaries; the teacher, reading the sentence,
knows which clause causes which. The span calibration (`agents/span_calibration.py`) weighs the
two per candidate span, fitted on pool examples that the tagger answering them never trained on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.student import gold_examples
from dualchecker.agents.types import Record, Span, Task

log = logging.getLogger(__name__)

FOLDS = 4
"""Cross-fitting folds: each fold's tagger trains on three quarters or more of the pool."""
SPLIT_AT = 3
"""One held-out split once the pool left beside `held_out` is this many times its size."""


class SpanProbe:
    """BIO taggers fitted on the human pool (each on first use) so that no text is answered by a
    tagger that trained on it.

    `held_out` are the normalised texts answered out-of-fold: the calibration sample, whose
    answers the calibration must see as unseen as the records'. `exclude` are texts no tagger
    trains on: the inputs'. A large pool keeps one split, a single tagger on the pool less
    `held_out` answering every text (one fit). A small one, where that split would leave the
    tagger under `SPLIT_AT` times the sample, is cross-fitted instead: `held_out` is cut into
    `FOLDS` folds, each answered by a tagger fitted without its fold, and every other text by a
    tagger on the whole pool, so the sample costs the tagger no training data (`FOLDS` + 1 fits
    of a small pool, the price of not dropping it).
    """

    def __init__(
        self,
        task: Task,
        pool: Iterable[Record],
        *,
        held_out: set[str] = frozenset(),
        exclude: set[str] = frozenset(),
        epochs: int = 3,
        learning_rate: float = 1e-4,
        seed: int = 0,
        model: str | None = None,
    ):
        if not task.is_spans:
            raise ValueError("a span probe is for span tasks")
        self.task = task
        self.training = [
            r for r in pool if r.spans is not None and normalise_text(r.text) not in exclude
        ]
        self.epochs, self.learning_rate, self.seed, self.model = epochs, learning_rate, seed, model
        self._folds = self._cut(held_out)
        self._trainers: dict[frozenset[str], object] = {}
        self._lock = threading.Lock()
        self._cache: dict[str, list[Span]] = {}

    def _cut(self, held_out: set[str]) -> list[frozenset[str]]:
        """The held-out texts among the training examples, as one split or as `FOLDS` folds."""
        held = sorted({k for r in self.training if (k := normalise_text(r.text)) in held_out})
        rest = len({normalise_text(r.text) for r in self.training}) - len(held)
        if not held or rest >= SPLIT_AT * len(held):
            return [frozenset(held)]
        folds = min(FOLDS, len(held))
        return [frozenset(held[i::folds]) for i in range(folds)]

    @property
    def cross_fitted(self) -> bool:
        """True when the pool was small enough to be shared out-of-fold."""
        return len(self._folds) > 1

    def _left_out(self, key: str) -> frozenset[str]:
        """The texts the tagger answering `key` did not train on: the fold holding `key`, or for
        any other text nothing (cross-fitted) or the one held-out split."""
        for fold in self._folds:
            if key in fold:
                return fold
        return frozenset() if self.cross_fitted else self._folds[0]

    def training_for(self, record: Record) -> list[Record]:
        """The pool examples the tagger that answers `record` trains on."""
        left_out = self._left_out(normalise_text(record.text))
        return [r for r in self.training if normalise_text(r.text) not in left_out]

    def _fitted(self, left_out: frozenset[str]):
        with self._lock:
            if left_out not in self._trainers:
                from dualchecker.training.config import StudentConfig
                from dualchecker.training.trainer import StudentTrainer

                config = StudentConfig(
                    task="spans",
                    span_types=self.task.span_type_names,
                    final_epochs=self.epochs,
                    learning_rate=self.learning_rate,
                    seed=self.seed,
                    device="cpu",
                    **({"model": self.model} if self.model else {}),
                )
                trainer = StudentTrainer(config)
                examples = [r for r in self.training if normalise_text(r.text) not in left_out]
                log.info("span probe: fitting a tagger on %d pool examples", len(examples))
                trainer.fit(gold_examples(self.task, examples), self.epochs)
                self._trainers[left_out] = trainer
            return self._trainers[left_out]

    def prefetch(self, records: list[Record]) -> None:
        """Tag a batch of texts, one pass per tagger, instead of one pass per record."""
        todo = {normalise_text(r.text): r.text for r in records}
        by_tagger: dict[frozenset[str], list[tuple[str, str]]] = {}
        for key, text in todo.items():
            if key not in self._cache:
                by_tagger.setdefault(self._left_out(key), []).append((key, text))
        for left_out, items in by_tagger.items():
            predictions = self._fitted(left_out).predict([t for _, t in items])
            with self._lock:
                for (key, text), prediction in zip(items, predictions, strict=True):
                    self._cache[key] = [
                        Span(
                            type=s.type,
                            start=s.start,
                            end=s.end,
                            text=text[s.start : s.end],
                            confidence=s.confidence,
                        )
                        for s in prediction.spans
                    ]

    def spans(self, record: Record) -> list[Span]:
        """The tagger's spans for the record's text, each with its mean tag probability."""
        key = normalise_text(record.text)
        if key not in self._cache:
            self.prefetch([record])
        return list(self._cache[key])
