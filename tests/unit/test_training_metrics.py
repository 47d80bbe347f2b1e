"""Metrics against small cases worked out by hand; a None prediction is always an error."""

from __future__ import annotations

import pytest

from dualchecker.training.data import CharSpan
from dualchecker.training.metrics import (
    binary_f1,
    classification_scores,
    macro_f1,
    span_exact_f1,
    token_f1,
    word_tags,
)


def cs(start: int, end: int, kind: str) -> CharSpan:
    return CharSpan(start=start, end=end, type=kind)


def test_binary_f1_counts_none_as_wrong_not_dropped():
    gold = [1, 1, 0, 0, 1]
    pred = [1, 0, 0, None, None]
    # None on a negative -> false positive, None on a positive -> false negative:
    # TP=1, FP=1, FN=2 -> P=1/2, R=1/3, F1=0.4 (dropping the Nones would give 0.667).
    assert binary_f1(gold, pred) == pytest.approx(0.4)


def test_binary_f1_with_another_positive_class():
    # positive=0: TP=1 (item 0), FN=1 (item 1), FP=1 (None on item 2) -> F1=0.5
    assert binary_f1([0, 0, 1], [0, 1, None], positive=0) == pytest.approx(0.5)


def test_binary_f1_perfect_and_empty_positive():
    assert binary_f1([0, 1, 1], [0, 1, 1]) == 1.0
    assert binary_f1([0, 0], [0, 0]) == 0.0


def test_macro_f1_by_hand():
    # class 0: F1 1; class 1: F1 0; class 2: P=1/2, R=1/2 -> 0.5; mean 0.5
    assert macro_f1([0, 1, 2, 2], [0, 2, 2, None]) == pytest.approx(0.5)


def test_classification_scores_binary():
    scores = classification_scores([1, 1, 0, 0, 1], [1, 0, 0, None, None], "binary")
    assert scores["f1"] == pytest.approx(0.4)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["accuracy"] == pytest.approx(0.4)
    assert scores["missing"] == 2


def test_classification_scores_multiclass_headline_is_macro():
    scores = classification_scores([0, 1, 2, 2], [0, 2, 2, None], "multiclass")
    assert scores["f1"] == scores["macro_f1"] == pytest.approx(0.5)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(0.5)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        binary_f1([1, 0], [1])


def test_span_exact_f1_needs_start_end_and_type():
    gold = [[cs(0, 4, "cause"), cs(10, 15, "effect")], [cs(0, 3, "cause")]]
    pred = [[cs(0, 4, "cause"), cs(10, 14, "effect"), cs(20, 25, "cause")], None]
    scores = span_exact_f1(gold, pred)
    # TP=1 of 3 predicted and 3 gold
    assert scores["precision"] == scores["recall"] == scores["f1"] == pytest.approx(1 / 3)
    assert span_exact_f1([[cs(0, 4, "cause")]], [[cs(0, 4, "effect")]])["f1"] == 0.0


def test_word_tags_use_whole_words():
    assert word_tags("a bb c", [cs(3, 4, "cause")]) == ["O", "cause", "O"]


def test_token_f1_counts_words_outside_gold_spans():
    text = "a b c d"
    gold = [[cs(0, 3, "cause"), cs(6, 7, "effect")]]  # a b | d
    pred = [[cs(2, 5, "cause"), cs(6, 7, "effect")]]  # b c | d
    # gold tags cause cause O effect; pred O cause cause effect -> TP=2 of 3 and 3
    assert token_f1([text], gold, pred)["f1"] == pytest.approx(2 / 3)
    assert token_f1([text], gold, [None])["recall"] == 0.0
