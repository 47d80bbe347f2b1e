"""BIO alignment between character spans and the real MiniLM tokenizer's tokens."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from dualchecker.training.config import default_student_model
from dualchecker.training.data import (
    IGNORE_INDEX,
    CharSpan,
    StudentExample,
    bio_tag_names,
    spans_to_token_tags,
    token_tags_to_spans,
)
from tests.fakes import TEST_DATA

TYPES = ["cause", "effect"]
TAGS = bio_tag_names(TYPES)
TAG2ID = {t: i for i, t in enumerate(TAGS)}
ID2TAG = dict(enumerate(TAGS))


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(default_student_model())


def span(text: str, piece: str, kind: str, occurrence: int = 0) -> CharSpan:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    return CharSpan(start=start, end=start + len(piece), type=kind)


def round_trip(
    tokenizer, text: str, spans: list[CharSpan], max_length: int = 128
) -> list[CharSpan]:
    offsets = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    tags = spans_to_token_tags(offsets, spans, TAG2ID)
    return token_tags_to_spans(offsets, tags, ID2TAG)


def test_tag_names_are_o_then_b_i_per_type():
    assert TAGS == ["O", "B-cause", "I-cause", "B-effect", "I-effect"]
    with pytest.raises(ValueError):
        bio_tag_names(["a", "a"])


ROUND_TRIP_LINES = (TEST_DATA / "span_round_trip.jsonl").read_text(encoding="utf-8").splitlines()
CASES = {  # tricky texts: punctuation, subwords, whitespace runs, unicode, adjacent spans
    case["case"]: (case["text"], [(s["quote"], s["type"]) for s in case["spans"]])
    for case in map(json.loads, ROUND_TRIP_LINES)
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_spans_round_trip_on_tricky_text(tokenizer, name):
    text, pieces = CASES[name]
    spans = [span(text, piece, kind) for piece, kind in pieces]
    assert round_trip(tokenizer, text, spans) == spans


def test_span_with_surrounding_whitespace_comes_back_trimmed(tokenizer):
    text = "rain caused floods"
    padded = CharSpan(start=4, end=12, type="cause")  # " caused "
    assert round_trip(tokenizer, text, [padded]) == [span(text, "caused", "cause")]


def test_span_inside_a_word_grows_to_the_whole_token(tokenizer):
    text = "the unemployment rose"
    inside = span(text, "employ", "effect")
    assert [text[s.start : s.end] for s in round_trip(tokenizer, text, [inside])] == [
        "unemployment"
    ]


def test_special_tokens_are_ignored_and_first_token_is_b(tokenizer):
    text = "Drought ruined crops"
    offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    tags = spans_to_token_tags(offsets, [span(text, "Drought ruined", "cause")], TAG2ID)
    assert tags[0] == tags[-1] == IGNORE_INDEX
    assert [ID2TAG[t] for t in tags[1:-1]] == ["B-cause", "I-cause", "O"]


def test_overlapping_span_is_left_out_whole(tokenizer):
    text = "rain caused floods in town"
    outer = span(text, "rain caused floods", "effect")
    inner = span(text, "floods in town", "cause")
    assert round_trip(tokenizer, text, [inner, outer]) == [outer]


def test_truncation_drops_spans_past_max_length(tokenizer):
    text = "a " * 20 + "flood"
    assert round_trip(tokenizer, text, [span(text, "flood", "effect")], max_length=8) == []


def test_decoding_is_tolerant_of_model_mistakes():
    offsets = [(0, 0), (0, 3), (4, 7), (8, 11), (12, 15), (0, 0), (16, 19)]
    ids = [TAG2ID[t] for t in ["O", "I-cause", "I-cause", "I-effect", "B-effect", "O", "I-effect"]]
    spans = token_tags_to_spans(offsets, ids, ID2TAG)
    assert [s.key() for s in spans] == [
        ("cause", 0, 7),
        ("effect", 8, 11),
        ("effect", 12, 15),
        ("effect", 16, 19),
    ]


def test_ignore_index_closes_a_span():
    offsets = [(0, 3), (4, 7), (8, 11)]
    ids = [TAG2ID["B-cause"], IGNORE_INDEX, TAG2ID["I-cause"]]
    assert [s.key() for s in token_tags_to_spans(offsets, ids, ID2TAG)] == [
        ("cause", 0, 3),
        ("cause", 8, 11),
    ]


def test_example_rejects_spans_outside_the_text():
    with pytest.raises(ValueError):
        StudentExample(id="x", text="short", spans=[CharSpan(start=0, end=9, type="cause")])
    with pytest.raises(ValueError):
        CharSpan(start=3, end=3, type="cause")


def test_teacher_and_student_spans_are_one_type_with_one_key():
    from dualchecker.agents.types import Span

    quoted = Span(type="cause", start=0, end=4, text="rain", confidence=0.9)
    predicted = CharSpan(type="cause", start=0, end=4, confidence=0.4)
    assert isinstance(quoted, CharSpan) and quoted.key() == predicted.key() == ("cause", 0, 4)
