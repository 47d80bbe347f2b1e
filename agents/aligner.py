"""ContextAligner: the teacher learns the humans' labelling standard from their closest examples.

For each record, retrieve the most similar human-labelled examples, have the teacher explain each
example's *known* answer (once per example and answer, then cached), and hand them over as
demonstrations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

import numpy as np

from dualchecker.agents.answers import RATIONALE_CHARS, RATIONALE_SCHEMA, parse_rationale
from dualchecker.agents.backends import ChatBackend, Completion
from dualchecker.agents.embedders import Embedder
from dualchecker.agents.prompting import PromptBook
from dualchecker.agents.types import Demonstration, Record, Task
from dualchecker.errors import BackendError

log = logging.getLogger(__name__)


def normalise_text(text: str) -> str:
    """The key under which two texts count as duplicates."""
    return " ".join(text.lower().split())


class ExampleIndex:
    """Gold-labelled pool embeddings, searchable by cosine similarity.

    `never_train_on` are normalised texts the probe must not fit on: the inputs' texts, when a
    separate pool shares some with them (allowed by the run's settings), so that no input is
    answered by a probe that saw its own label.
    """

    def __init__(
        self, pool: Iterable[Record], embedder: Embedder, *, never_train_on: Iterable[str] = ()
    ):
        seen: set[str] = set()
        self.examples: list[Record] = []
        for record in pool:
            key = normalise_text(record.text)
            if record.has_gold and key not in seen:
                seen.add(key)
                self.examples.append(record)
        self.embedder = embedder
        self._keys = [normalise_text(r.text) for r in self.examples]
        # Keyed by text, never by id: ids restarting at 0 in two files must not retrieve the
        # neighbours of another text.
        self._row = {key: i for i, key in enumerate(self._keys)}
        self.matrix = (
            embedder.encode([r.text for r in self.examples])
            if self.examples
            else np.zeros((0, 1), dtype=np.float32)
        )
        self._query_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._probe = None
        self._probe_lock = threading.Lock()
        self._never_train_on = frozenset(never_train_on)

    def __len__(self) -> int:
        return len(self.examples)

    def prefetch(self, records: list[Record]) -> None:
        """Embed a batch of queries in one call instead of one call per record."""
        keys = {normalise_text(r.text): r.text for r in records}
        todo = [key for key in keys if key not in self._row and key not in self._query_cache]
        if todo:
            vectors = self.embedder.encode([keys[key] for key in todo])
            with self._lock:
                self._query_cache.update(dict(zip(todo, vectors)))

    def vector(self, record: Record) -> np.ndarray:
        """The record's embedding: the pool's own row for a pool text, else encoded once."""
        return self._vector(record)

    def _vector(self, record: Record) -> np.ndarray:
        key = normalise_text(record.text)
        if key in self._row:
            return self.matrix[self._row[key]]
        if key not in self._query_cache:
            self.prefetch([record])
        return self._query_cache[key]

    def neighbours(
        self,
        record: Record,
        k: int,
        *,
        label: str | None = None,
    ) -> list[tuple[Record, float]]:
        """The k most similar examples (of `label`, when given), never the record itself nor a
        duplicate of its text."""
        if k <= 0 or not self.examples:
            return []
        scores = self.matrix @ self._vector(record)
        own_key = normalise_text(record.text)
        found: list[tuple[Record, float]] = []
        for i in np.argsort(-scores, kind="stable"):
            example = self.examples[i]
            if self._keys[i] == own_key or (label is not None and example.label != label):
                continue
            found.append((example, float(scores[i])))
            if len(found) == k:
                break
        return found

    def balanced(self, record: Record, k: int, labels: list[str]) -> list[tuple[Record, float]]:
        """k examples drawn from every label in turn (nearest first within a label), shown least
        similar first so the closest example sits next to the text. A small teacher votes with
        the majority of its demonstrations; balance makes them teach the boundary instead."""
        per_label = {label: self.neighbours(record, k, label=label) for label in labels}
        chosen: list[tuple[Record, float]] = []
        depth = 0
        while len(chosen) < k and any(depth < len(v) for v in per_label.values()):
            for label in labels:
                if depth < len(per_label[label]) and len(chosen) < k:
                    chosen.append(per_label[label][depth])
            depth += 1
        return sorted(chosen, key=lambda pair: pair[1])

    def vote(self, record: Record, k: int, labels: list[str]) -> dict[str, float]:
        """The k nearest examples' labels, weighted by similarity (kNN-prompting's neighbour
        distribution), with add-one smoothing so no label is impossible."""
        weights = dict.fromkeys(labels, 1.0 / len(labels))
        for example, similarity in self.neighbours(record, k):
            if example.label in weights:
                weights[example.label] += max(similarity, 0.0)
        total = sum(weights.values())
        return {label: w / total for label, w in weights.items()}

    def probe(self, record: Record, labels: list[str]) -> dict[str, float]:
        """What the whole pool says about texts like this one: a logistic regression on the pool's
        embeddings (a linear probe, the smooth cousin of a neighbour vote).

        A pool example is answered by a model fitted without it (5-fold out-of-fold
        probabilities), so the calibration fitted on pool examples never sees its own label; any
        other text by a model fitted on `probe_training`, which holds none of `never_train_on`.
        """
        with self._probe_lock:  # fitted once, on first use
            if self._probe is None:
                self._probe = self._fit_probe(labels)
        model, held_out = self._probe
        key = normalise_text(record.text)
        if key in held_out:
            p = held_out[key]
        else:
            p = model.predict_proba(self._vector(record)[None, :])[0]
        classes = [str(c) for c in model.classes_]
        return {
            label: float(p[classes.index(label)]) if label in classes else 0.0 for label in labels
        }

    def _probe_rows(self, labels: list[str]) -> list[int]:
        return [
            i
            for i, r in enumerate(self.examples)
            if r.label in labels and self._keys[i] not in self._never_train_on
        ]

    def probe_training(self, labels: list[str]) -> list[Record]:
        """The pool examples the probe fits on: those with one of `labels`, less
        `never_train_on`."""
        return [self.examples[i] for i in self._probe_rows(labels)]

    def _fit_probe(self, labels: list[str]):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict

        rows = self._probe_rows(labels)
        x, y = self.matrix[rows], [self.examples[i].label for i in rows]
        model = LogisticRegression(max_iter=2000).fit(x, y)
        folds = min(5, min(y.count(label) for label in set(y)))
        if folds >= 2:
            out_of_fold = cross_val_predict(
                LogisticRegression(max_iter=2000), x, y, cv=folds, method="predict_proba"
            )
        else:
            out_of_fold = model.predict_proba(x)
        held_out = {self._keys[i]: out_of_fold[j] for j, i in enumerate(rows)}
        return model, held_out


class RationaleCache:
    """One rationale per (example, answer) per run; concurrent askers wait for the first."""

    def __init__(self) -> None:
        self._values: dict[tuple, str] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_make(self, key: tuple, make: Callable[[], str]) -> str:
        """The cached value for `key`, calling `make` only on the first ask (others wait for it)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._values:
                with self._guard:
                    self.hits += 1
                return self._values[key]
            value = make()
            self._values[key] = value
            with self._guard:
                self.misses += 1
            return value


def answer_key(record: Record) -> tuple:
    """A hashable form of the record's known answer: its sorted spans, or its label."""
    if record.spans is not None:
        return tuple(sorted(s.key() for s in record.spans))
    return (record.label,)


class ContextAligner:
    """Retrieves aligned demonstrations; `on_call` hears about each rationale the LLM wrote."""

    def __init__(
        self,
        task: Task,
        index: ExampleIndex | None,
        backend: ChatBackend,
        prompts: PromptBook,
        *,
        explain: bool = True,
        on_call: Callable[[str, list[dict], Completion], None] | None = None,
    ):
        self.task, self.index, self.backend, self.prompts = task, index, backend, prompts
        self.explain = explain
        self.cache = RationaleCache()
        self.on_call = on_call

    def rationale(self, example: Record) -> str:
        """The teacher's explanation of the example's known answer, written once and cached."""
        return self.cache.get_or_make(
            (example.id, answer_key(example)), lambda: self._write_rationale(example)
        )

    def _write_rationale(self, example: Record) -> str:
        messages = self.prompts.rationale_messages(
            self.task, example.text, label=example.label, spans=example.spans
        )
        try:
            reply = self.backend.complete(messages, RATIONALE_SCHEMA)
        except BackendError as exc:  # a demonstration without a reason still teaches the standard
            log.warning("rationale for example %s failed: %s", example.id, exc)
            return ""
        if self.on_call:
            self.on_call(example.id, messages, reply)
        return parse_rationale(reply.text, limit=RATIONALE_CHARS)

    def demonstrations(
        self, record: Record, k: int, *, balanced: bool = False, labels: list[str] | None = None
    ) -> list[Demonstration]:
        """Aligned demonstrations: the k nearest examples, or k label-balanced ones (`labels`
        restricts the balance to those labels, e.g. a re-prompt's two most likely)."""
        if self.index is None:
            return []
        if balanced and not self.task.is_spans:
            found = self.index.balanced(record, k, labels or self.task.label_names)
        else:
            found = self.index.neighbours(record, k)
        return [
            Demonstration.of(
                example,
                "aligned",
                similarity=similarity,
                rationale=self.rationale(example) if self.explain else "",
            )
            for example, similarity in found
        ]
