"""Bad input files: every problem names the file and row (or is skipped and counted), and no output
file is ever left half-written."""

from __future__ import annotations

import json
import logging
import os

import pytest
from typer.testing import CliRunner

from dualchecker.agents.types import LabelledRecord
from dualchecker.cli import app
from dualchecker.data import DataSource, atomic_write_text, load_records, write_labels_jsonl
from dualchecker.errors import DataError
from tests.fakes import BINARY, SPANS


def jsonl(path, rows) -> str:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return str(path)


GOOD = {"id": "ok", "text": "We cut emissions.", "label": "yes"}
BAD_ROWS = [  # (row, task, what the error must say, field)
    ({"id": "a", "text": "   \n\t", "label": "no"}, BINARY, "empty", "text"),
    ({"id": "a", "text": None}, BINARY, "missing or empty", "text"),
    ({"id": "a", "text": 42}, BINARY, "string", "text"),
    ({"id": "a", "text": ["a", "list"]}, BINARY, "string", "text"),
    ({"id": "a", "body": "text under another key"}, BINARY, "missing", "text"),
    ({"id": "a", "text": "fine", "label": "Maybe"}, BINARY, "unknown label", "label"),
    (
        {"id": "a", "text": "short", "spans": [{"type": "cause", "start": 2, "end": 99}]},
        SPANS,
        "ends after the text",
        None,
    ),
    (
        {"id": "a", "text": "short", "spans": [{"type": "cause", "start": -1, "end": 3}]},
        SPANS,
        "greater than or equal to 0",
        None,
    ),
    (
        {"id": "a", "text": "short", "spans": [{"type": "cause", "start": 3, "end": 3}]},
        SPANS,
        "must be after start",
        None,
    ),
    ({"id": "a", "text": "short", "spans": [{"type": "cause", "end": 3}]}, SPANS, "start", None),
    (
        {"id": "a", "text": "short", "spans": [{"type": "mood", "start": 0, "end": 3}]},
        SPANS,
        "unknown span types",
        "spans",
    ),
    ({"id": "a", "text": "short", "spans": "not json"}, SPANS, "", None),
    ({"id": "a", "text": "short", "spans": {"type": "cause"}}, SPANS, "list of", "spans"),
    ({"id": "a", "text": "short", "spans": ["cause"]}, SPANS, "list of", "spans"),
]


@pytest.mark.parametrize(
    "row, task, message, field",
    BAD_ROWS,
    ids=[f"{i}-{m or 'malformed'}" for i, (_, _, m, _) in enumerate(BAD_ROWS)],
)
def test_a_bad_row_is_a_data_error_naming_file_row_and_field(tmp_path, row, task, message, field):
    good = {**GOOD, "label": None, "spans": []} if task.is_spans else GOOD
    path = jsonl(tmp_path / "in.jsonl", [good, row])
    with pytest.raises(DataError) as info:
        load_records(DataSource(path=path), task)
    error = info.value
    assert error.row == 2 and path in str(error) and "row 2" in str(error)
    assert message.lower() in str(error).lower()
    if field:
        assert error.field == field


def test_non_object_rows_and_broken_json_name_the_row(tmp_path):
    for bad, message in [
        ("[1, 2]", "JSON object"),
        ('"text"', "JSON object"),
        ('{"text": "x",', "invalid JSON"),
    ]:
        path = jsonl(tmp_path / "in.jsonl", [GOOD, {"id": "b", "text": "fine"}, bad])
        with pytest.raises(DataError, match=f"row 3: .*{message}"):
            load_records(DataSource(path=path), BINARY)


def test_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="row 2: not UTF-8") as info:
        load_records(DataSource(path=path), BINARY)
    assert info.value.row == 2


def test_duplicate_ids_name_both_rows(tmp_path):
    path = jsonl(
        tmp_path / "in.jsonl", [GOOD, {"id": "b", "text": "x"}, {"id": "ok", "text": "again"}]
    )
    with pytest.raises(DataError, match=r"row 3.*duplicate id 'ok' \(first at row 1\)"):
        load_records(DataSource(path=path), BINARY)


def test_csv_without_the_text_column(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,sentence,label\n1,hello,yes\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 2.*field 'text'"):
        load_records(DataSource(path=path), BINARY)


def test_skip_mode_keeps_good_rows_and_counts_the_rest(tmp_path, caplog):
    rows = (
        [GOOD] + [r for r, task, _, _ in BAD_ROWS if task is BINARY] + [{"id": "z", "text": "last"}]
    )
    path = jsonl(tmp_path / "in.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="dualchecker.data"):
        records = load_records(DataSource(path=path, on_bad_row="skip"), BINARY)
    assert [r.id for r in records] == ["ok", "z"]
    skipped = sum(1 for _, task, _, _ in BAD_ROWS if task is BINARY)
    assert f"skipped {skipped} bad rows" in caplog.text


def test_the_cli_reports_a_bad_row_and_writes_nothing(tmp_path):
    inputs = jsonl(tmp_path / "in.jsonl", [GOOD, {"id": "b", "text": ""}])
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "task": BINARY.model_dump(mode="json"),
                "inputs": {"path": inputs},
                "backend": {
                    "kind": "scripted",
                    "params": {"rules": [{"replies": ['{"label": "no", "confidence": 90}']}]},
                },
                "method": {"name": "zero-shot", "student": False},
                "run": {"dir": str(tmp_path / "run")},
            }
        )
    )
    result = CliRunner().invoke(app, ["label", str(config), "--no-progress"])
    assert result.exit_code == 2
    assert "row 2" in result.output and "field 'text'" in result.output
    assert not (tmp_path / "run" / "labels.jsonl").exists()


class Boom(RuntimeError):
    pass


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "labels.jsonl"
    old = [LabelledRecord(id="1", text="t", label="yes", confidence=0.9)]
    write_labels_jsonl(target, old)
    before = target.read_bytes()

    def crash(fd):  # the disk fails after half the data went out
        raise Boom("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    new = [LabelledRecord(id=str(i), text="x" * 1000, label="no") for i in range(500)]
    with pytest.raises(Boom):
        write_labels_jsonl(target, new)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.jsonl"]


def test_an_atomic_write_never_exposes_a_partial_file(tmp_path):
    """A reader polling the file while it is rewritten sees the old or the new content, nothing else."""
    import threading

    target = tmp_path / "summary.json"
    versions = [json.dumps({"v": i, "pad": "x" * 200_000}) for i in range(20)]
    atomic_write_text(target, versions[0])
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(target.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    for text in versions[1:]:
        atomic_write_text(target, text)
    done.set()
    reader.join()
    assert seen <= set(versions)
