"""Causal News Corpus's inline tags (``<ARG0>cause</ARG0> … <ARG1>effect</ARG1>``) as spans.

Subtask 2 stores one row per cause-effect relation with its spans tagged inside the sentence;
`dualchecker.adapters.cnc_spans` reads the file and merges a sentence's relations. BIO tagging
cannot express overlapping spans, so where relations overlap the student can learn only part
of them; scoring still uses every gold span, so such sentences can never score 100% (an
honest ceiling rather than a silently easier task).
"""

from __future__ import annotations

import re

from dualchecker.training.data import CharSpan

_CNC_TAG = re.compile(r"<(/?)(ARG0|ARG1|SIG\d+)>")
_CNC_TYPES = {"ARG0": "cause", "ARG1": "effect"}


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
