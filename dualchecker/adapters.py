"""Dataset adapters: public labelled data (read where it lies, never copied) → task + records.

Causal News Corpus subtask 2 can hold several cause/effect relations per sentence; the paper's
span task extracts one (cause, effect) pair per text. We keep that shape: by default only
sentences with exactly one relation are used (`relations="single"`), so gold and prediction are
one pair each; `relations="all"` keeps every sentence with all its distinct spans as gold.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

from dualchecker.agents.types import Record, Span, Task
from dualchecker.cnc_tags import parse_tagged_spans
from dualchecker.errors import DataError

TASKS: dict[str, Task] = {
    name: Task.model_validate(spec)
    for name, spec in yaml.safe_load(
        resources.files("dualchecker").joinpath("tasks.yaml").read_text(encoding="utf-8")
    ).items()
}
ENV_CLAIMS = TASKS["environmental_claims"]
CNC_SPANS = TASKS["cnc_spans"]
CNC_CAUSAL = TASKS["cnc_causal"]
GREEN_BINARY = TASKS["green_binary"]
GREEN_PATHS = TASKS["green_paths"]
GREEN_EFFECTS = TASKS["green_effects"]
REUTERS_R8 = TASKS["reuters_r8"]
# Reuters stories run to ~1,000 words; the opening (headline and lead) carries the topic, and a
# prompt of the whole story costs the local teacher seconds of prefill per record.
R8_WORDS = 150


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise DataError("no such file", source=str(path))
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def environmental_claims(data_dir: Path, split: str) -> list[Record]:
    """One split of Environmental Claims (JSONL), label 1 read as "yes", else "no"."""
    rows = _jsonl(data_dir / "environmental_claims" / f"{split}.jsonl")
    return [
        Record(id=f"ec-{split}-{i}", text=row["text"], label="yes" if row["label"] == 1 else "no")
        for i, row in enumerate(rows)
    ]


def cnc_spans(
    data_dir: Path, split: str, relations: Literal["single", "all"] = "single"
) -> list[Record]:
    """Causal News Corpus subtask 2: cause/effect spans per sentence. ``single`` keeps sentences
    with one relation only; ``all`` merges every relation's spans into one record."""
    path = data_dir / "causal_news_corpus" / f"{split}_subtask2.csv"
    if not path.exists():
        raise DataError("no such file", source=str(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    key = lambda r: f"{r['corpus']}-{r['doc_id']}-{r['sent_id']}"
    counts = Counter(key(r) for r in rows)
    records: dict[str, Record] = {}
    for row_number, row in enumerate(rows, start=2):
        k = key(row)
        if relations == "single" and counts[k] != 1:
            continue
        try:
            spans = parse_tagged_spans(row["text_w_pairs"], row["text"])
        except ValueError as exc:
            raise DataError(
                str(exc), source=str(path), row=row_number, field="text_w_pairs"
            ) from None
        known = records[k].spans if k in records else []
        found = [
            Span(type=s.type, start=s.start, end=s.end, text=row["text"][s.start : s.end])
            for s in spans
        ]
        merged = known + [s for s in found if s.key() not in {x.key() for x in known}]
        records[k] = Record(id=k, text=row["text"], spans=merged)
    return list(records.values())


def cnc_causal(data_dir: Path, split: str) -> list[Record]:
    """Causal News Corpus subtask 1: is the sentence causal ("yes"/"no")."""
    path = data_dir / "causal_news_corpus" / f"{split}_subtask1.csv"
    if not path.exists():
        raise DataError("no such file", source=str(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            Record(id=row["index"], text=row["text"], label="yes" if row["label"] == "1" else "no")
            for row in csv.DictReader(handle)
        ]


def reuters_r8(data_dir: Path, split: str) -> list[Record]:
    """Reuters-21578 R8 (8 topics, skewed): the first `R8_WORDS` words of each story."""
    rows = _jsonl(data_dir / "reuters_r8" / f"{split}.jsonl")
    return [
        Record(id=row["id"], text=" ".join(row["text"].split()[:R8_WORDS]), label=row["label"])
        for row in rows
    ]


def quickstart(name: str) -> list[Record]:
    """The project's own small green-innovation datasets, shipped in the package."""
    text = (
        resources.files("dualchecker.quickstart")
        .joinpath(f"{name}.jsonl")
        .read_text(encoding="utf-8")
    )
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    out = []
    for row in rows:
        spans = [
            Span(
                type=s["type"],
                start=s["start"],
                end=s["end"],
                text=row["text"][s["start"] : s["end"]],
            )
            for s in row.get("spans", [])
        ] or None
        out.append(
            Record(
                id=row["id"],
                text=row["text"],
                detail=row.get("detail"),
                label=row.get("label"),
                spans=spans,
            )
        )
    return out


Loader = Callable[[Path], tuple[list[Record], list[Record]]]
# name → (task, loader returning (train pool, held-out))
DATASETS: dict[str, tuple[Task, Loader]] = {
    "environmental_claims": (
        ENV_CLAIMS,
        lambda d: (environmental_claims(d, "train"), environmental_claims(d, "dev")),
    ),
    "cnc_spans": (CNC_SPANS, lambda d: (cnc_spans(d, "train"), cnc_spans(d, "dev"))),
    "cnc_causal": (CNC_CAUSAL, lambda d: (cnc_causal(d, "train"), cnc_causal(d, "dev"))),
    "reuters_r8": (REUTERS_R8, lambda d: (reuters_r8(d, "train"), reuters_r8(d, "test"))),
    "green_binary": (GREEN_BINARY, lambda d: _split(quickstart("green_binary"))),
    "green_paths": (GREEN_PATHS, lambda d: _split(quickstart("green_paths"))),
    "green_effects": (GREEN_EFFECTS, lambda d: _split(quickstart("green_effects"))),
}


def _split(records: list[Record], share: float = 0.75) -> tuple[list[Record], list[Record]]:
    """The paper's split: the first share labelled by the teacher, the rest held out."""
    cut = int(len(records) * share)
    return records[:cut], records[cut:]


def preset_split(name: str, data_dir: Path) -> tuple[Task, list[Record], list[Record]]:
    """A built-in dataset whole: (task, its labelled split, its held-out split)."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    task, loader = DATASETS[name]
    labelled, held_out = loader(Path(data_dir))
    return task, labelled, held_out


def load_dataset(
    name: str,
    data_dir: Path,
    *,
    size: int | None = None,
    eval_size: int | None = None,
    seed: int = 0,
) -> tuple[Task, list[Record], list[Record]]:
    """(task, records to label = the labelled pool, held-out records), sampled with `seed`."""
    task, pool, held_out = preset_split(name, data_dir)
    rng = random.Random(seed)
    if size is not None and size < len(pool):
        pool = rng.sample(pool, size)
    if eval_size is not None and eval_size < len(held_out):
        held_out = rng.sample(held_out, eval_size)
    return task, pool, held_out
