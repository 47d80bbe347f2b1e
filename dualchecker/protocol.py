"""The evaluation protocol: where design choices are made, and where figures are reported.

Every figure in the README after 2026-12-08 follows it (docs/protocol.md says why):

- **development** records: the splits scored while the method was being designed (claims dev and
  test, CNC dev; for Reuters R8, 500 stories carved from train). Settings are chosen here.
- **untouched** records: carved out of each train file with `UNTOUCHED_SEED`, scored only for
  final figures, never to choose anything (claims 500 sentences, CNC 300; R8 uses its test file).
- **rest**: the remainder of train, de-duplicated by normalised text against both splits above:
  human pools and unlabelled sets are drawn from it.

Pools are stratified and nested (the pool of 32 is inside the pool of 128 for the same seed), so
a teacher's answers to pool examples are reused across sizes; the unlabelled set is drawn once
from the rest with the protocol's seed and is disjoint from every pool.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from dualchecker.adapters import TASKS, cnc_spans, environmental_claims, reuters_r8
from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.types import Record, Task

UNTOUCHED_SEED = 27
"""Fixed once (2026-12-08) and never changed: the untouched records are the same for everyone."""
UNTOUCHED_SIZE = {"environmental_claims": 500, "cnc_spans": 300}
R8_DEVELOPMENT = 500
UNLABELLED_SEED = 1


class Splits(BaseModel):
    """One dataset cut by the protocol."""

    model_config = ConfigDict(frozen=True)
    task: Task
    development: list[Record]
    untouched: list[Record]
    rest: list[Record]


def _carve(records: list[Record], size: int, seed: int) -> tuple[list[Record], list[Record]]:
    """A seeded sample of `size` records, and the records left."""
    chosen = set(random.Random(seed).sample(range(len(records)), size))
    return [r for i, r in enumerate(records) if i in chosen], [
        r for i, r in enumerate(records) if i not in chosen
    ]


def _without(records: list[Record], *others: list[Record]) -> list[Record]:
    """`records` less any whose normalised text is in `others` or repeats an earlier one."""
    seen = {normalise_text(r.text) for part in others for r in part}
    kept = []
    for record in records:
        key = normalise_text(record.text)
        if key not in seen:
            seen.add(key)
            kept.append(record)
    return kept


def splits(name: str, data_dir: Path) -> Splits:
    """The protocol's development, untouched and rest records of a built-in dataset."""
    data_dir = Path(data_dir)
    if name == "environmental_claims":
        train = environmental_claims(data_dir, "train")
        development = environmental_claims(data_dir, "dev") + environmental_claims(data_dir, "test")
        untouched, rest = _carve(train, UNTOUCHED_SIZE[name], UNTOUCHED_SEED)
    elif name == "cnc_spans":
        train = cnc_spans(data_dir, "train", relations="all")
        development = cnc_spans(data_dir, "dev", relations="all")
        untouched, rest = _carve(train, UNTOUCHED_SIZE[name], UNTOUCHED_SEED)
    elif name == "reuters_r8":
        development, rest = _carve(reuters_r8(data_dir, "train"), R8_DEVELOPMENT, UNTOUCHED_SEED)
        untouched = reuters_r8(data_dir, "test")
    else:
        raise ValueError(f"no protocol for {name!r}: environmental_claims, cnc_spans, reuters_r8")
    untouched = _without(untouched, development)
    return Splits(
        task=TASKS[name],
        development=development,
        untouched=untouched,
        rest=_without(rest, development, untouched),
    )


def unlabelled_and_candidates(
    rest: list[Record], size: int, seed: int = UNLABELLED_SEED
) -> tuple[list[Record], list[Record]]:
    """The unlabelled set (`size` records of the rest, or all but 512 when the rest is short)
    and the pool candidates left beside it."""
    size = min(size, max(len(rest) - 512, 0))
    return _carve(rest, size, seed)


def _strata(task: Task, record: Record) -> str:
    """The class a record is stratified by: its label, or for spans whether it has any."""
    if task.is_spans:
        return "spans" if record.spans else "none"
    return record.label or ""


def nested_pool(task: Task, candidates: list[Record], size: int, seed: int) -> list[Record]:
    """A stratified pool of `size` candidates; for one seed a smaller pool is inside a larger.

    Each class is shuffled with the seed and contributes its first records in proportion to its
    share of the candidates (largest remainder), so a class rarer than 1/size may get none: a
    user's small pool lacks rare classes too.
    """
    by_class: dict[str, list[Record]] = defaultdict(list)
    for record in candidates:
        by_class[_strata(task, record)].append(record)
    rng = random.Random(seed)
    for name in sorted(by_class):
        rng.shuffle(by_class[name])
    size = min(size, len(candidates))
    quota = {c: size * len(v) / len(candidates) for c, v in by_class.items()}
    take = {c: int(q) for c, q in quota.items()}
    for c in sorted(quota, key=lambda c: (take[c] - quota[c], c))[: size - sum(take.values())]:
        take[c] += 1
    pool = [r for c in sorted(by_class) for r in by_class[c][: take[c]]]
    rng.shuffle(pool)
    return pool
