"""Readers for the labelled public data sets, producing plain ``StudentExample`` lists.

Causal News Corpus subtask 2 stores one row per cause-effect relation with inline tags. We
build **one example per sentence holding every distinct cause and effect span of all its
relations** (the student tags a sentence once, so it should learn all of them). BIO tagging
cannot express overlapping spans, so where relations overlap the student can learn only part
of them; scoring still uses every gold span, so such sentences can never score 100% (an
honest ceiling rather than a silently easier task).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from dualchecker.errors import DataError

from .data import CharSpan, StudentExample

CNC_SPAN_TYPES = ["cause", "effect"]
"""Span types of the Causal News Corpus, in BIO tag order."""

_CNC_TAG = re.compile(r"<(/?)(ARG0|ARG1|SIG\d+)>")
_CNC_TYPES = {"ARG0": "cause", "ARG1": "effect"}


def load_jsonl_labels(path: str | Path, id_prefix: str | None = None) -> list[StudentExample]:
    """Rows ``{"text": ..., "label": int}`` (e.g. environmental claims); ids are ``prefix-row``."""
    path = Path(path)
    prefix = id_prefix or path.stem
    examples = []
    with path.open(encoding="utf-8") as f:
        for row, line in enumerate(f):
            if not line.strip():
                continue
            item = json.loads(line)
            if "text" not in item or "label" not in item:
                raise DataError("needs 'text' and 'label'", source=str(path), row=row)
            examples.append(
                StudentExample(id=f"{prefix}-{row}", text=item["text"], label=int(item["label"]))
            )
    return examples


def _strip_tags(tagged: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Text without tags, and (start, end, tag) of every tagged region in that raw text."""
    pieces, spans, opened, pos, length = [], [], {}, 0, 0
    for match in _CNC_TAG.finditer(tagged):
        pieces.append(tagged[pos : match.start()])
        length += match.start() - pos
        pos = match.end()
        closing, name = match.groups()
        if not closing:
            opened[name] = length
        elif name in opened:
            spans.append((opened.pop(name), length, name))
        else:
            raise ValueError(f"</{name}> without <{name}>")
    if opened:
        raise ValueError(f"unclosed tags {sorted(opened)}")
    pieces.append(tagged[pos:])
    return "".join(pieces), spans


def _normalise_spaces(raw: str) -> tuple[str, list[int]]:
    """``' '.join(raw.split())`` plus, for each raw character, its index in the result."""
    out: list[str] = []
    where = []
    for ch in raw:
        where.append(len(out))
        if not ch.isspace():
            out.append(ch)
        elif out and out[-1] != " ":
            out.append(" ")
    return "".join(out).rstrip(" "), where


def _trim(chunk: str, strip) -> str:
    """Strip whitespace and byte-order marks (a few CNC rows keep a BOM inside the sentence)."""
    return strip(strip(strip(chunk), "\ufeff"))


def parse_tagged_spans(tagged: str, text: str) -> list[CharSpan]:
    """Cause (ARG0) and effect (ARG1) character spans of ``text`` from CNC's ``text_w_pairs``.

    Signal tags (SIG*) are dropped. Raises ``ValueError`` if the untagged, space-normalised
    string is not ``text`` or a span is empty.
    """
    raw, regions = _strip_tags(tagged)
    normalised, where = _normalise_spaces(raw)
    if normalised != text:
        raise ValueError("untagged text does not match the 'text' column")
    spans = []
    for start, end, name in regions:
        if name not in _CNC_TYPES:
            continue
        chunk = raw[start:end]
        first = start + len(chunk) - len(_trim(chunk, str.lstrip))
        last = end - (len(chunk) - len(_trim(chunk, str.rstrip)))
        if last <= first:
            raise ValueError(f"empty <{name}> span")
        spans.append(CharSpan(start=where[first], end=where[last - 1] + 1, type=_CNC_TYPES[name]))
    return spans


def load_cnc_spans(path: str | Path) -> list[StudentExample]:
    """One example per sentence of a CNC subtask-2 CSV with all its relations' distinct spans."""
    path = Path(path)
    by_sentence: dict[str, StudentExample] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row, item in enumerate(csv.DictReader(f)):
            key = f"{item['corpus']}-{item['doc_id']}-{item['sent_id']}"
            try:
                spans = parse_tagged_spans(item["text_w_pairs"], item["text"])
            except ValueError as err:
                raise DataError(str(err), source=str(path), row=row, field="text_w_pairs") from err
            example = by_sentence.setdefault(key, StudentExample(id=key, text=item["text"]))
            if example.text != item["text"]:
                raise DataError(
                    f"sentence {key} has two different texts", source=str(path), row=row
                )
            known = {s.key() for s in example.spans}
            example.spans.extend(s for s in spans if s.key() not in known)
    return list(by_sentence.values())
