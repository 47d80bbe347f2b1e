"""Loading records: formats, field mapping and errors that name the file, row and field."""

import json

import pandas as pd
import pytest

from dualchecker.agents.types import LabelledRecord
from dualchecker.data import (
    DataSource,
    load_records,
    read_labels_jsonl,
    to_records,
    write_labels_jsonl,
)
from dualchecker.errors import DataError
from tests.fakes import BINARY, SPANS


def write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_with_label_map_and_generated_ids(tmp_path):
    path = write(tmp_path / "d.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": 0}])
    recs = load_records(DataSource(path=path, label_map={"0": "no", "1": "yes"}), BINARY)
    # ids are `<file stem>-<row>`, never the absolute path
    assert [(r.id, r.label) for r in recs] == [("d-1", "yes"), ("d-2", "no")]


def test_csv_with_bom(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("\ufeffid,text,label\nx1,hello,yes\nx2,world,no\n", encoding="utf-8")
    assert [r.id for r in load_records(DataSource(path=path), BINARY)] == ["x1", "x2"]


@pytest.mark.parametrize(
    "rows, message, row, field",
    [
        (
            [{"id": "a", "text": "ok", "label": "yes"}, {"id": "b", "text": "", "label": "no"}],
            "empty",
            2,
            "text",
        ),
        ([{"id": "a", "text": "ok", "label": "maybe"}], "unknown label", 1, "label"),
        ([{"id": "a", "text": "ok"}, {"id": "a", "text": "again"}], "duplicate id", 2, "id"),
        ([{"id": "a", "label": "yes"}], "missing", 1, "text"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path, rows, message, row, field):
    path = write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError) as info:
        load_records(DataSource(path=path), BINARY)
    assert message in str(info.value) and str(path) in str(info.value)
    assert info.value.row == row and info.value.field == field


def test_bad_rows_can_be_skipped(tmp_path):
    path = write(
        tmp_path / "d.jsonl",
        [{"id": "a", "text": "ok"}, {"id": "b", "text": ""}, {"id": "c", "text": "x"}],
    )
    assert [r.id for r in load_records(DataSource(path=path, on_bad_row="skip"), BINARY)] == [
        "a",
        "c",
    ]


def test_invalid_json_and_non_utf8(tmp_path):
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(DataError, match="row 2.*invalid JSON"):
        load_records(DataSource(path=bad), BINARY)
    latin = tmp_path / "l.jsonl"
    latin.write_bytes('{"text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_records(DataSource(path=latin), BINARY)


def test_gold_spans_outside_the_text_are_rejected(tmp_path):
    path = write(
        tmp_path / "s.jsonl",
        [{"id": "a", "text": "short", "spans": [{"type": "cause", "start": 0, "end": 40}]}],
    )
    with pytest.raises(DataError, match="ends after the text"):
        load_records(DataSource(path=path), SPANS)


def test_python_lists_pandas_and_hf_datasets():
    rows = [{"id": "1", "text": "a", "label": "yes"}, {"id": "2", "text": "b", "label": "no"}]
    assert [r.id for r in to_records(rows, BINARY)] == ["1", "2"]
    assert [r.label for r in to_records(pd.DataFrame(rows), BINARY)] == ["yes", "no"]
    assert [r.text for r in to_records(["just text"], BINARY)] == ["just text"]
    import datasets

    assert [r.id for r in to_records(datasets.Dataset.from_list(rows), BINARY)] == ["1", "2"]


def test_labels_jsonl_round_trip(tmp_path):
    items = [LabelledRecord(id="1", text="t", label="yes", confidence=0.9)]
    write_labels_jsonl(tmp_path / "o.jsonl", items)
    assert read_labels_jsonl(tmp_path / "o.jsonl") == items
    assert not list(tmp_path.glob(".*.tmp"))
