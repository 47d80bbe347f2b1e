"""Plain training items and the BIO bridge between character spans and token tags.

Spans live as character offsets so that teachers, gold data and metrics never depend on a
tokenizer; only the student converts them to per-token BIO tags (and back) with the
tokenizer's ``offset_mapping``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

IGNORE_INDEX = -100
"""Label id the loss skips: special tokens, padding and tokens cut by truncation."""

Offset = tuple[int, int]


class CharSpan(BaseModel):
    """A typed span of ``text[start:end]`` (end exclusive): the one span type of the project
    (the teacher's ``Span`` adds the quoted text)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    type: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    confidence: float | None = None
    """How sure its source is: the student's mean tag probability over the span's tokens, or the
    teacher's probability of the quote."""

    @model_validator(mode="after")
    def _non_empty(self) -> CharSpan:
        if self.end <= self.start:
            raise ValueError(f"span end {self.end} must be after start {self.start}")
        return self

    def key(self) -> tuple[str, int, int]:
        """(type, start, end): what makes two spans the same, whatever their text or confidence;
        exact-match scoring and de-duplication compare these."""
        return (self.type, self.start, self.end)


class StudentExample(BaseModel):
    """One item the student trains or is evaluated on.

    ``label`` is None when no usable label exists (e.g. the teacher's answer could not be
    parsed); such items are skipped by training, never filled with gold.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id: str
    text: str
    label: int | None = Field(None, ge=0)
    """Class id (classification tasks)."""
    spans: list[CharSpan] = Field(default_factory=list)
    """Gold or teacher spans (span tasks)."""
    weight: float = Field(1.0, ge=0.0)
    """How much the example counts in the loss: 1 for a human label, e.g. the teacher's
    calibrated confidence for a teacher label, so an unsure label teaches less."""

    @model_validator(mode="after")
    def _spans_inside_text(self) -> StudentExample:
        for span in self.spans:
            if span.end > len(self.text):
                raise ValueError(f"span {span.key()} ends past the text (length {len(self.text)})")
        return self


def bio_tag_names(span_types: Sequence[str]) -> list[str]:
    """BIO tag inventory: ``O`` then ``B-t``/``I-t`` for each type, in the given order."""
    if len(set(span_types)) != len(span_types) or not span_types:
        raise ValueError(f"span types must be unique and non-empty, got {list(span_types)}")
    return ["O"] + [f"{p}-{t}" for t in span_types for p in ("B", "I")]


def _is_special(offset: Offset) -> bool:
    # Fast tokenizers give special and padding tokens the empty offset (0, 0).
    return offset[1] <= offset[0]


def spans_to_token_tags(
    offsets: Sequence[Offset], spans: Sequence[CharSpan], tag2id: Mapping[str, int]
) -> list[int]:
    """Tag every token that overlaps a span; special tokens get ``IGNORE_INDEX``.

    The first token overlapping a span is ``B``, later ones ``I`` (sub-words included, so the
    inverse recovers the span). BIO cannot hold overlapping spans: spans are placed in order
    of start (longer first) and one that would share a token with a placed span is left out
    whole, so the tags never describe a span that is not in ``spans``.
    """
    tags = [IGNORE_INDEX if _is_special(o) else tag2id["O"] for o in offsets]
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        covered = [
            i
            for i, (start, end) in enumerate(offsets)
            if not _is_special((start, end)) and end > span.start and start < span.end
        ]
        if not covered or any(tags[i] != tag2id["O"] for i in covered):
            continue
        tags[covered[0]] = tag2id[f"B-{span.type}"]
        for i in covered[1:]:
            tags[i] = tag2id[f"I-{span.type}"]
    return tags


def token_tags_to_spans(
    offsets: Sequence[Offset], tag_ids: Sequence[int], id2tag: Mapping[int, str]
) -> list[CharSpan]:
    """Read spans back from per-token tags.

    Tolerant of what a model emits: an ``I-t`` that does not continue a span of type ``t``
    opens a new one; special tokens and ``IGNORE_INDEX`` close any open span.
    """
    spans: list[CharSpan] = []
    current: list[int | str] | None = None  # [start, end, type]
    for offset, tag_id in zip(offsets, tag_ids, strict=True):
        tag = "O" if tag_id == IGNORE_INDEX or _is_special(offset) else id2tag[int(tag_id)]
        prefix, _, kind = tag.partition("-")
        if prefix == "I" and current is not None and current[2] == kind:
            current[1] = offset[1]
            continue
        if current is not None:
            spans.append(CharSpan(start=current[0], end=current[1], type=current[2]))
            current = None
        if prefix in ("B", "I"):
            current = [offset[0], offset[1], kind]
    if current is not None:
        spans.append(CharSpan(start=current[0], end=current[1], type=current[2]))
    return spans
