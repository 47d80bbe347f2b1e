"""The reply parser, from tables of cases."""

import pytest

from dualchecker.agents.answers import (
    extract_json_object,
    locate_span,
    match_label,
    normalise_confidence,
    parse_answer,
    parse_rationale,
)
from dualchecker.errors import AnswerParseError
from tests.fakes import BINARY, SPANS


@pytest.mark.parametrize(
    "value, expected",
    [
        (90, 0.9),
        ("90", 0.9),
        ("90%", 0.9),
        (0.9, 0.9),
        ("0.9", 0.9),
        (100, 1.0),
        (0, 0.0),
        ("1", 1.0),
        ("High", 0.85),
        ("very low", 0.1),
        (" 75 % ", 0.75),
        (45.5, 0.455),
    ],
)
def test_confidence_is_normalised(value, expected):
    assert normalise_confidence(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", [150, -3, "150%", "lots", None, True, [], float("nan"), "-0.5"])
def test_impossible_confidence_is_rejected(value):
    with pytest.raises(AnswerParseError):
        normalise_confidence(value)


def test_json_is_found_in_prose_and_code_fences():
    assert extract_json_object('Sure! {"label": "yes", "confidence": 80} done') == {
        "label": "yes",
        "confidence": 80,
    }
    assert extract_json_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json_object('{broken {"a": {"b": 2}}') == {"a": {"b": 2}}
    with pytest.raises(AnswerParseError):
        extract_json_object("[1, 2, 3]")


@pytest.mark.parametrize("raw, expected", [("YES", "yes"), ('"no".', "no"), (" yes ", "yes")])
def test_label_matching_is_tolerant(raw, expected):
    assert match_label(raw, ["no", "yes"]) == expected


def test_unknown_label_is_rejected():
    with pytest.raises(AnswerParseError, match="not one of"):
        parse_answer('{"label": "maybe", "confidence": 50}', BINARY, "text")


def test_missing_confidence_is_rejected():
    with pytest.raises(AnswerParseError, match="confidence"):
        parse_answer('{"label": "yes"}', BINARY, "text")


def test_span_location_exact_then_whitespace_and_case_tolerant():
    text = "Heavy  rains ( in May ) caused floods ."
    assert locate_span(text, "caused floods") == (24, 37)
    start, end = locate_span(text, "heavy rains (in may)")
    assert text[start:end] == "Heavy  rains ( in May )"
    assert locate_span(text, "drought") is None
    assert locate_span(text, "   ") is None


def test_spans_answer_and_hallucination():
    text = "Solar panels cut emissions."
    answer = parse_answer(
        '{"cause": "Solar panels", "effect": "cut emissions", "confidence": 80}', SPANS, text
    )
    assert [(s.type, s.start, s.end) for s in answer.spans] == [
        ("cause", 0, 12),
        ("effect", 13, 26),
    ]
    empty = parse_answer('{"cause": "", "effect": null, "confidence": 80}', SPANS, text)
    assert empty.spans == []
    partial = parse_answer(
        '{"cause": "Wind turbines", "effect": "cut emissions", "confidence": 80}', SPANS, text
    )
    assert [s.text for s in partial.spans] == ["cut emissions"] and partial.dropped_spans == 1
    assert partial.confidence == pytest.approx(0.4)  # half the answer was invented
    with pytest.raises(AnswerParseError, match="hallucinated"):
        parse_answer(
            '{"cause": "Wind turbines", "effect": "save the planet", "confidence": 80}', SPANS, text
        )


def test_two_spans_of_one_type_are_both_kept():
    text = "Floods and a drought cut the harvest."
    answer = parse_answer(
        '{"cause": ["Floods", "a drought"], "effect": ["cut the harvest"], "confidence": 90}',
        SPANS,
        text,
    )
    assert [(s.type, s.text) for s in answer.spans] == [
        ("cause", "Floods"),
        ("cause", "a drought"),
        ("effect", "cut the harvest"),
    ]


def test_rationale_reply_plain_or_json():
    assert parse_rationale('{"rationale": "Because."}') == "Because."
    assert parse_rationale("Because it says so.") == "Because it says so."


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            '{"label": "yes", "confidence": 95, "rationale": "cut here',
            {"label": "yes", "confidence": 95, "rationale": "cut here"},
        ),
        (
            '{"label": "yes", "confidence": 95, "rationale": "a \\"quoted\\" wo',
            {"label": "yes", "confidence": 95, "rationale": 'a "quoted" wo'},
        ),
        ('{"label": "no", "confidence": 75,', {"label": "no", "confidence": 75}),
        ('{"cause": ["a", "b', {"cause": ["a", "b"]}),
    ],
)
def test_truncated_replies_are_closed(raw, expected):
    assert extract_json_object(raw) == expected


@pytest.mark.parametrize("raw", ['{"label": "yes", "confidence":', '{"label"', "no braces at all"])
def test_truncation_that_loses_a_value_is_still_rejected(raw):
    # the unfinished key is dropped, never guessed, so the answer lacks a field it needs
    with pytest.raises(AnswerParseError, match="no 'confidence' field|no 'label' field|no JSON"):
        parse_answer(raw, BINARY, "text")


def test_schema_and_validation_come_from_one_answer_model_per_task():
    from dualchecker.agents.answers import answer_model, answer_schema
    from dualchecker.agents.types import SpanTypeDef, Task

    ner = Task(
        name="places",
        kind="spans",
        instructions="Find the places.",
        span_types=[SpanTypeDef(name="geo-loc", description="a place")],
    )
    schema = answer_schema(ner)
    assert list(schema["properties"]) == ["geo-loc", "confidence", "rationale"]
    assert schema["required"] == list(schema["properties"])
    model = answer_model(ner)
    assert model.model_json_schema()["properties"]["geo-loc"]["type"] == "array"
    text = "From Paris to Lyon by train."
    answer = parse_answer('{"GEO-LOC": ["Paris", "Lyon"], "confidence": 70}', ner, text)
    assert [s.text for s in answer.spans] == ["Paris", "Lyon"] and answer.confidence == 0.7
    # the label field is a Literal of the task's labels, in the schema and in validation
    assert answer_schema(BINARY)["properties"]["label"]["enum"] == BINARY.label_names
    with pytest.raises(AnswerParseError, match="no 'label' field"):
        parse_answer('{"confidence": 70}', BINARY, "text")
