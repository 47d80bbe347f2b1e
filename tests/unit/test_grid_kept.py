"""A grid keeps its cells' per-record outputs without the data's text, resumes, and its kept
folder alone gives back the same table; texts and quotes come back from the data by id."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.faults import BackendUnavailable
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.experiment import Experiment, GridConfig
from dualchecker.grid_report import LABELS_KEPT, STUDENT_KEPT, cell_labels, student_answers
from dualchecker.kept import KeptTextError, read_records
from dualchecker.training.testing import save_tiny_student

WORDS = ["carbon", "kelp", "solar", "ledger", "board", "tariff", "wind", "dividend"]
TEXTS = [f"Memo {i} of the quarry guild speaks of {WORDS[i % 8]} at length." for i in range(24)]
GRID_RESULTS = Path(__file__).parents[2] / "benchmarks" / "grid_results.py"


def respond(messages):
    if "You explain" in messages[0].content:
        return json.dumps({"rationale": "Memo of the quarry guild"})  # repeats the text's words
    text = messages[-1].content.rsplit("Text: ", 1)[-1].split("\n")[0]
    word = next((w for w in WORDS if w in text), "")
    if "topic-word" in messages[0].content:
        return json.dumps({"topic-word": [word], "confidence": 90})
    green = word in ("carbon", "kelp", "solar", "wind")
    return json.dumps({"label": "yes" if green else "no", "confidence": 60 if "1" in text else 90})


def write_grid(tmp_path: Path, student: dict) -> Path:
    """Two datasets (binary and spans) over TEXTS, zero-shot and aligner, one seed."""
    binary = [
        {
            "id": f"b{i}",
            "text": t,
            "label": int(WORDS[i % 8] in ("carbon", "kelp", "solar", "wind")),
        }
        for i, t in enumerate(TEXTS)
    ]
    spans = [
        {"id": f"s{i}", "text": t, "spans": [{"type": "TOPIC", "start": t.index(w), "end": t.index(w) + len(w)}]}
        for i, t in enumerate(TEXTS)
        for w in [WORDS[i % 8]]
    ]  # fmt: skip
    tasks = {
        "bin": {"name": "green", "kind": "binary", "instructions": "Green?",
                "labels": [{"name": "no"}, {"name": "yes"}]},
        "spans": {"name": "topic words", "kind": "spans", "instructions": "Quote the topic.",
                  "span_types": [{"name": "topic-word", "description": "the topic word"}]},
    }  # fmt: skip
    datasets = []
    for name, rows in (("bin", binary), ("spans", spans)):
        for part, chosen in (("train", rows[:16]), ("eval", rows[16:])):
            (tmp_path / f"{name}-{part}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in chosen)
            )
        source = {"label_map": {"0": "no", "1": "yes"}} if name == "bin" else {}
        if name == "spans":
            source = {"span_type_map": {"TOPIC": "topic-word"}}
        datasets.append(
            {
                "name": name,
                "task": tasks[name],
                "size": 8,
                "labelled": {"path": f"{name}-train.jsonl", **source},
                "eval": {"path": f"{name}-eval.jsonl", **source},
            }
        )
    spec = {
        "out_dir": "grid",
        "datasets": datasets,
        "seeds": [0],
        "n_shots": [2],
        "methods": ["zero-shot", "aligner"],
        "batch_size": 4,
        "retrieval": {"kind": "hashing"},
        "student": student,
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run(path: Path, responder=respond) -> list[dict[str, str]]:
    grid = GridConfig.from_yaml(path)
    model = ScriptedChatModel(responder=responder)
    return Experiment(grid, llm=model, embedder=HashingEmbedder()).run(progress=False)


def plain(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def holds_data_words(body: str) -> bool:
    """True when a kept file holds any input text, or any quote or rationale of one."""
    return "quarry guild" in body or any(f'"{w}"' in body for w in WORDS)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_student(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory, tiny):
    tmp_path = tmp_path_factory.mktemp("kept")
    student = {"model": tiny, "use_ray": False, "epochs_per_batch": 1, "final_epochs": 1}
    path = write_grid(tmp_path, student)
    return path, run(path)


def test_every_cell_keeps_its_outputs_and_none_of_the_data_text(grid_run):
    path, rows = grid_run
    out = path.parent / "grid"
    assert {(r["dataset"], r["method"]) for r in rows} == {
        (d, m) for d in ("bin", "spans") for m in ("zero-shot", "aligner")
    }
    for row in rows:
        cell = out / row["cell"]
        assert cell_labels(out, row) == cell / LABELS_KEPT
        assert student_answers(out, row) == cell / STUDENT_KEPT
        for name in (LABELS_KEPT, STUDENT_KEPT):
            assert not holds_data_words(plain(cell / name)), f"{row['cell']}/{name}"
        run_labels = read_records(cell / "labels.jsonl")  # the run's own file has its texts
        assert "quarry guild" in run_labels[0].text
        kept = read_records(cell / LABELS_KEPT)
        assert [r.id for r in kept] == [r.id for r in run_labels]
        assert [(r.label, [s.key() for s in r.spans]) for r in kept] == [
            (r.label, [s.key() for s in r.spans]) for r in run_labels
        ]
    gold = sorted((out / "gold_students").iterdir())
    assert [p.name for p in gold] == ["bin-seed0.jsonl.gz", "spans-seed0.jsonl.gz"]
    assert not any(holds_data_words(plain(p)) for p in gold)


def test_texts_and_quotes_come_back_from_the_data_by_id(grid_run):
    path, rows = grid_run
    out = path.parent / "grid"
    row = next(r for r in rows if r["dataset"] == "spans" and r["method"] == "aligner")
    texts = {f"s{i}": t for i, t in enumerate(TEXTS)}
    blank = {"rationale": True, "before": {"rationale"}}
    restored = read_records(out / row["cell"] / LABELS_KEPT, texts)
    original = read_records(out / row["cell"] / "labels.jsonl")
    assert any(r.spans for r in original)  # quotes to restore
    assert [r.model_dump(exclude=blank) for r in restored] == [
        r.model_dump(exclude=blank) for r in original
    ]
    missing = {k: v for k, v in texts.items() if k != restored[0].id}
    with pytest.raises(KeptTextError, match=rf"{LABELS_KEPT}, line 1: .*'{restored[0].id}'"):
        read_records(out / row["cell"] / LABELS_KEPT, missing)


def test_a_kept_folder_alone_redraws_the_same_table(grid_run, tmp_path):
    path, _ = grid_run
    out = path.parent / "grid"
    spec = importlib.util.spec_from_file_location("grid_results", GRID_RESULTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dest = tmp_path / "kept"
    module.keep(path, dest)
    names = {p.name for p in dest.rglob("*") if p.is_file()}
    assert names == {
        "results.csv", "configs.json", "config.json", "summary.json", LABELS_KEPT, STUDENT_KEPT,
        "bin-seed0.jsonl.gz", "spans-seed0.jsonl.gz",
    }  # fmt: skip
    module.redraw(dest)
    assert (dest / "results.md").read_text() == (out / "results.md").read_text()


def test_an_interrupted_cell_resumes_and_then_keeps_its_outputs(tmp_path):
    path = write_grid(tmp_path, {"use_ray": False, "final": False})
    spec = yaml.safe_load(path.read_text())
    spec.update(datasets=spec["datasets"][:1], methods=["zero-shot"])
    path.write_text(yaml.safe_dump(spec))
    calls = []

    def down_after_one_batch(messages):
        calls.append(messages)
        if len(calls) > 4:
            raise ConnectionError("down")
        return respond(messages)

    with pytest.raises(BackendUnavailable):
        run(path, down_after_one_batch)
    cell = next((tmp_path / "grid" / "cells").iterdir())
    assert not (cell / LABELS_KEPT).exists()  # kept only once the cell has finished
    resumed = []
    (row,) = run(path, lambda m: resumed.append(m) or respond(m))
    assert len(resumed) == 4  # the first batch was not asked again
    kept = read_records(cell / LABELS_KEPT)
    assert sorted(r.id for r in kept) == sorted(r.id for r in read_records(cell / "labels.jsonl"))
    assert len(kept) == 8 and not holds_data_words(plain(cell / LABELS_KEPT))
    assert int(row["records"]) == 8
