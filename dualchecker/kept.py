"""Per-record outputs kept without the data's text: ids, offsets, labels and probabilities.

Results that sit beside the code must not carry the data they were measured on (the benchmark
data's licences forbid redistributing it, and a run directory repeats every text many times: the
record, its quotes, the prompts, the model's raw replies and rationales). A table needs none of
it: it scores ids, labels, span offsets, gold answers and confidences. Readers that do need the
words (to train a student again, to show a record) get them back from the data by id, and every
quote from its offsets.

Kept files are gzip-compressed JSON (``.gz``; plain JSON is read too), written with a fixed
timestamp so that the same records always give the same bytes.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dualchecker.agents.types import LabelledRecord
from dualchecker.data import atomic_write_bytes
from dualchecker.errors import DualCheckerError

TEXT_KEYS = frozenset({"text", "raw", "rationale"})
"""Keys whose string values copy the data's words (a record's text, a quote, a reply)."""


class KeptTextError(DualCheckerError):
    """A kept record whose text cannot be restored from the records given."""


def strip_text(value: Any) -> Any:
    """A JSON value with every copy of the data's words blanked and every prompt dropped; ids,
    offsets, labels, probabilities and usage stay."""
    if isinstance(value, list):
        return [strip_text(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: "" if k in TEXT_KEYS and isinstance(v, str) else [] if k == "messages" else strip_text(v)
        for k, v in value.items()
    }


def restore_text(value: Any, text: str) -> Any:
    """A stripped record (as JSON) with its text put back and each quote cut out of it by its
    offsets."""
    if isinstance(value, list):
        return [restore_text(v, text) for v in value]
    if not isinstance(value, dict):
        return value
    if {"type", "start", "end"} <= value.keys() and value.get("text") == "" and text:
        return {**value, "text": text[value["start"] : value["end"]]}
    return {k: restore_text(v, text) for k, v in value.items()}


def without_text(record: LabelledRecord) -> dict[str, Any]:
    """One labelled record as JSON, without its words."""
    return strip_text(record.model_dump(mode="json"))


def with_text(kept: dict[str, Any], texts: Mapping[str, str] | None = None) -> LabelledRecord:
    """A kept record as a labelled record, its text and quotes restored from `texts` (id →
    text) when given; without it the record still scores (offsets and labels are kept).

    Raises:
        KeptTextError: `texts` has no text for the record, or one its spans do not fit.
    """
    text = kept.get("text") or ""
    if texts is not None and not text:
        if kept["id"] not in texts:
            raise KeptTextError(f"no text for kept record {kept['id']!r} in the data given")
        text = texts[kept["id"]]
    record = LabelledRecord.model_validate(restore_text({**kept, "text": text}, text))
    if text and any(s.end > len(text) for s in [*record.spans, *(record.gold_spans or [])]):
        raise KeptTextError(f"kept record {kept['id']!r}: a span ends after its text")
    return record


def write_json(path: Path, value: Any) -> None:
    """`value` as JSON to `path` (gzip-compressed when the name ends in ``.gz``), atomically."""
    write_lines(path, [json.dumps(value, ensure_ascii=False)])


def read_json(path: Path) -> Any:
    """The JSON value of a file `write_json` wrote (or any plain JSON file)."""
    return json.loads("".join(read_lines(path)))


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Lines (without their newlines) to `path`, gzip-compressed when it ends in ``.gz``, with a
    fixed timestamp: the same lines give the same bytes."""
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    if path.suffix == ".gz":
        body = gzip.compress(body, compresslevel=9, mtime=0)
    atomic_write_bytes(path, body)


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a plain or gzip-compressed text file."""
    body = path.read_bytes()
    if path.suffix == ".gz":
        body = gzip.decompress(body)
    return [line for line in body.decode("utf-8").splitlines() if line.strip()]


def write_records(path: Path, records: Iterable[LabelledRecord]) -> None:
    """Labelled records, one JSON line each, without their words."""
    write_lines(
        path,
        (json.dumps(without_text(r), ensure_ascii=False, separators=(",", ":")) for r in records),
    )


def read_records(path: Path, texts: Mapping[str, str] | None = None) -> list[LabelledRecord]:
    """Labelled records from a kept file or from a run's own JSONL (which has its texts); with
    `texts`, a kept record's text and quotes come back from it.

    Raises:
        KeptTextError: naming the file, when `texts` lacks a record's text.
    """
    out = []
    for n, line in enumerate(read_lines(path), 1):
        try:
            out.append(with_text(json.loads(line), texts))
        except KeptTextError as exc:
            raise KeptTextError(f"{path}, line {n}: {exc}") from None
    return out
