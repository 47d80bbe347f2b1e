"""Reading the shared data sets into records, CNC's inline tags in particular."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dualchecker.adapters import cnc_spans, environmental_claims
from dualchecker.cnc_tags import parse_tagged_spans
from dualchecker.errors import DataError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def pieces(text, spans):
    return [(s.type, text[s.start : s.end]) for s in spans]


@pytest.mark.parametrize(
    ("tagged", "text", "expected"),
    [
        pytest.param(
            "<ARG1>The protest</ARG1> was <ARG0><SIG0>a call for</SIG0> change</ARG0> .",
            "The protest was a call for change .",
            [("effect", "The protest"), ("cause", "a call for change")],
            id="tags_become_character_spans_of_text",
        ),
        pytest.param(
            " <ARG0> heavy  rain </ARG0>  caused <ARG1>floods</ARG1>",
            "heavy rain caused floods",
            [("cause", "heavy rain"), ("effect", "floods")],
            id="spaces_inside_tags_are_normalised_and_trimmed",
        ),
    ],
)
def test_tagged_text_becomes_spans(tagged, text, expected):
    assert pieces(text, parse_tagged_spans(tagged, text)) == expected


def test_byte_order_mark_is_not_part_of_a_span():
    tagged = "<ARG1>\ufeffThe network</ARG1> was blocked <ARG0>after riots</ARG0>"
    text = "\ufeffThe network was blocked after riots"
    assert pieces(text, parse_tagged_spans(tagged, text))[0] == ("effect", "The network")


def test_mismatching_text_is_rejected():
    with pytest.raises(ValueError):
        parse_tagged_spans("<ARG0>rain</ARG0> fell", "snow fell")


def write_cnc(path: Path, rows: list[tuple[str, str, str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["corpus", "doc_id", "sent_id", "eg_id", "text", "text_w_pairs"])
        for i, (sent, text, tagged) in enumerate(rows):
            writer.writerow(["cnc", "d1", sent, i, text, tagged])


def test_relations_of_one_sentence_become_one_record(tmp_path):
    text = "Rain caused floods which closed roads ."
    (tmp_path / "causal_news_corpus").mkdir()
    write_cnc(
        tmp_path / "causal_news_corpus" / "x_subtask2.csv",
        [
            ("1", text, "<ARG0>Rain</ARG0> caused <ARG1>floods</ARG1> which closed roads ."),
            ("1", text, "Rain caused <ARG0>floods</ARG0> which closed <ARG1>roads</ARG1> ."),
            ("2", "Fire spread .", "<ARG0>Fire</ARG0> <ARG1>spread</ARG1> ."),
        ],
    )
    examples = cnc_spans(tmp_path, "x", relations="all")
    assert [ex.id for ex in examples] == ["cnc-d1-1", "cnc-d1-2"]
    # 'floods' is an effect in one relation and a cause in the other: both are kept.
    assert pieces(text, examples[0].spans) == [
        ("cause", "Rain"),
        ("effect", "floods"),
        ("cause", "floods"),
        ("effect", "roads"),
    ]


def test_bad_row_names_file_and_row(tmp_path):
    (tmp_path / "causal_news_corpus").mkdir()
    write_cnc(
        tmp_path / "causal_news_corpus" / "bad_subtask2.csv", [("1", "a b", "<ARG0>a</ARG0> c")]
    )
    with pytest.raises(
        DataError, match="bad_subtask2.csv.*row 2"
    ):  # the CSV line, after the header
        cnc_spans(tmp_path, "bad")


@pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found at {DATA}")
def test_real_files_parse():
    dev = cnc_spans(DATA, "dev", relations="all")
    assert len(dev) == 185
    assert sum(len(ex.spans) for ex in dev) == 497
    claims = environmental_claims(DATA, "dev")
    assert (len(claims), sum(ex.label == "yes" for ex in claims)) == (265, 66)
