"""A tiny grid with the scripted teacher: every method × n-shot cell runs, the table says so."""

from __future__ import annotations

import csv
import json

import pytest

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.experiment import Experiment, GridConfig, cells
from dualchecker.graph.config import METHODS
from dualchecker.training.testing import save_tiny_student
from tests.shared_data import DATA


def respond(messages):
    user = messages[-1].content
    if "You explain" in messages[0].content or "Summarise" in user:
        return json.dumps({"rationale": "because"})
    if "Write two new texts" in user:
        return json.dumps({"samples": [{"text": "We plant trees.", "label": "yes"}]})
    text = user.rsplit("Text: ", 1)[-1]
    label = "yes" if any(w in text.lower() for w in ("climate", "emission", "renewable", "carbon")) else "no"
    return json.dumps({"label": label, "confidence": 60 if "the" in text else 90, "rationale": "scripted"})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_student(tmp_path_factory.mktemp("tiny"))


def test_tiny_grid_writes_table_csv_and_plots(tmp_path, tiny):
    grid = GridConfig.model_validate({
        "out_dir": str(tmp_path / "grid"), "data_dir": str(DATA),
        "datasets": [{"name": "environmental_claims", "size": 8, "eval_size": 6}],
        "methods": list(METHODS), "n_shots": [0, 2], "batch_size": 4,
        "retrieval": {"kind": "hashing"},
        "student": {"model": tiny, "use_ray": False, "epochs_per_batch": 1, "final_epochs": 1},
    })
    experiment = Experiment(grid, llm=ScriptedChatModel(responder=respond), embedder=HashingEmbedder())
    rows = experiment.run(progress=False)
    expected = {(m, n) for _, m, n, _ in cells(grid)}
    assert {(r["method"], int(r["n_shot"])) for r in rows} == expected
    assert ("dualchecker", 0) not in expected and ("zero-shot", 2) not in expected
    assert ("zero-shot", 0) in expected and ("cot", 0) in expected and ("dualchecker", 2) in expected
    for row in rows:
        assert 0.0 <= float(row["teacher_f1"]) <= 1.0 and 0.0 <= float(row["student_f1"]) <= 1.0
        assert row["gold_student_f1"] == rows[0]["gold_student_f1"] != ""
        assert int(row["records"]) == 8 and int(row["llm_calls"]) + int(row["cache_hits"]) >= 8
    by = {(r["method"], int(r["n_shot"])): r for r in rows}
    assert float(by[("dtot", 2)]["reprompt_rate"]) > 0 and float(by[("cot", 2)]["reprompt_rate"]) == 0
    assert int(by[("evokd", 2)]["synthetic"]) > 0
    table = (tmp_path / "grid" / "results.md").read_text()
    assert table.count("\n| environmental_claims |") == len(expected)
    line = next(l for l in table.splitlines() if "| dualchecker | 2 |" in l)
    assert f"{float(by[('dualchecker', 2)]['teacher_f1']):.3f}" in line
    assert (tmp_path / "grid" / "f1_by_method.png").stat().st_size > 10_000
    assert (tmp_path / "grid" / "f1_by_shots.png").stat().st_size > 10_000

    # Re-running the grid runs nothing new: every cell is already in results.csv.
    again = Experiment(grid, llm=ScriptedChatModel(responder=lambda m: pytest.fail("no call expected")),
                       embedder=HashingEmbedder()).run(progress=False)
    assert len(again) == len(rows)
