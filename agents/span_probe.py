"""What the human pool says about a text's spans: a token tagger fine-tuned on the pool.

For classification the pool's say is a linear probe on sentence embeddings (`ExampleIndex.probe`).
Spans have no such cheap probe: their standard lives in the boundaries (where a cause starts,
whether the effect includes its object), and a small teacher rarely quotes them exactly. A BIO
tagger fine-tuned on the human pool learns the boundaries; the teacher, reading the sentence,
knows which clause causes which. The span calibration (`agents/span_calibration.py`) weighs the
two per candidate span, fitted on pool examples that the tagger never trained on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.student import gold_examples
from dualchecker.agents.types import Record, Span, Task

log = logging.getLogger(__name__)


class SpanProbe:
    """A BIO tagger fitted (once, on first use) on the pool minus `held_out` texts.

    `held_out` are the normalised texts of the calibration sample: the calibration must see the
    tagger's answers on texts it did not train on, as it will on the records to label.
    """

    def __init__(
        self,
        task: Task,
        pool: Iterable[Record],
        *,
        held_out: set[str] = frozenset(),
        epochs: int = 3,
        learning_rate: float = 1e-4,
        seed: int = 0,
    ):
        if not task.is_spans:
            raise ValueError("a span probe is for span tasks")
        self.task = task
        self.training = [
            r for r in pool if r.spans is not None and normalise_text(r.text) not in held_out
        ]
        self.epochs, self.learning_rate, self.seed = epochs, learning_rate, seed
        self._trainer = None
        self._lock = threading.Lock()
        self._cache: dict[str, list[Span]] = {}

    def _fitted(self):
        with self._lock:
            if self._trainer is None:
                from dualchecker.training.config import StudentConfig
                from dualchecker.training.trainer import StudentTrainer

                config = StudentConfig(
                    task="spans",
                    span_types=self.task.span_type_names,
                    final_epochs=self.epochs,
                    learning_rate=self.learning_rate,
                    seed=self.seed,
                    device="cpu",
                )
                trainer = StudentTrainer(config)
                log.info("span probe: fitting a tagger on %d pool examples", len(self.training))
                trainer.fit(gold_examples(self.task, self.training), self.epochs)
                self._trainer = trainer
            return self._trainer

    def prefetch(self, records: list[Record]) -> None:
        """Tag a batch of texts in one pass instead of one pass per record."""
        todo = list({normalise_text(r.text): r.text for r in records}.items())
        todo = [(k, t) for k, t in todo if k not in self._cache]
        if not todo:
            return
        predictions = self._fitted().predict([t for _, t in todo])
        with self._lock:
            for (key, text), prediction in zip(todo, predictions, strict=True):
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
