"""A tiny grid with the scripted teacher: every method × n-shot cell runs, the table says so."""

from __future__ import annotations

import functools
import json
import re
import sys

import pytest
from sklearn.metrics import f1_score

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.agents.types import LabelledRecord
from dualchecker.errors import ConfigError
from dualchecker.evaluation import bootstrap_f1
from dualchecker.experiment import (
    DatasetSpec,
    Experiment,
    GridConfig,
    cells,
    config_key,
)
from dualchecker.graph.config import METHODS
from dualchecker.grid_report import cell_records, student_answers
from dualchecker.kept import read_records
from dualchecker.training.testing import save_tiny_student
from tests.shared_data import DATA


def respond(messages, green=("climate", "emission", "renewable", "carbon")):
    user = messages[-1].content
    if "You explain" in messages[0].content or "Summarise" in user:
        return json.dumps({"rationale": "because"})
    if "Write two new texts" in user:
        return json.dumps({"samples": [{"text": "We plant trees.", "label": "yes"}]})
    text = user.rsplit("Text: ", 1)[-1]
    label = "yes" if any(w in text.lower() for w in green) else "no"
    return json.dumps(
        {"label": label, "confidence": 60 if "the" in text else 90, "rationale": "scripted"}
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_student(tmp_path_factory.mktemp("tiny"))


def test_tiny_grid_writes_table_csv_and_plots(tmp_path, tiny):
    grid = GridConfig.model_validate(
        {
            "out_dir": str(tmp_path / "grid"),
            "data_dir": str(DATA),
            "datasets": [{"name": "environmental_claims", "size": 8, "eval_size": 6}],
            "methods": list(METHODS),
            "n_shots": [0, 2],
            "batch_size": 4,
            "retrieval": {"kind": "hashing"},
            "student": {"model": tiny, "use_ray": False, "epochs_per_batch": 1, "final_epochs": 1},
        }
    )
    # a keyword teacher right on some of these claims and wrong on others: F1s to recount
    words = ("climate", "emission", "renewable", "carbon", "sustainab", "environment", "electric")
    llm = ScriptedChatModel(responder=functools.partial(respond, green=words))
    experiment = Experiment(grid, llm=llm, embedder=HashingEmbedder())
    rows = experiment.run(progress=False)
    expected = {(m, n) for _, m, n, _ in cells(grid)}
    assert {(r["method"], int(r["n_shot"])) for r in rows} == expected
    assert ("dualchecker", 0) not in expected and ("zero-shot", 2) not in expected
    assert (
        ("zero-shot", 0) in expected and ("cot", 0) in expected and ("dualchecker", 2) in expected
    )
    out = tmp_path / "grid"
    for row in rows:
        # the cell's F1s are those of the answers it kept, recounted here
        _, labelled = cell_records(out, row)
        assert int(row["records"]) == len(labelled) == 8
        assert float(row["teacher_f1"]) == pytest.approx(yes_f1(labelled))
        kept = read_records(student_answers(out, row))
        assert float(row["student_f1"]) == pytest.approx(yes_f1(kept))
        assert row["gold_student_f1"] == rows[0]["gold_student_f1"] != ""
        # what the cache served is counted apart from the calls made, with what it once cost
        hits = int(row["cache_hits"])
        assert (hits > 0) == (int(row["cached_input_tokens"]) > 0)
        assert hits > 0 or float(row["cached_seconds"]) == 0.0
    # every call the model answered is counted once, in the cell that made it
    assert sum(int(r["llm_calls"]) for r in rows) == len(llm.prompts)
    by = {(r["method"], int(r["n_shot"])): r for r in rows}
    assert (
        float(by[("dtot", 2)]["reprompt_rate"]) > 0 and float(by[("cot", 2)]["reprompt_rate"]) == 0
    )
    assert int(by[("evokd", 2)]["synthetic"]) > 0
    table = (tmp_path / "grid" / "results.md").read_text()
    cell_table, paired = table.split("DualChecker against each method, paired:")
    assert cell_table.count("\n| environmental_claims |") == len(expected)
    line = next(row for row in table.splitlines() if "| dualchecker | 2 |" in row)
    assert f"{float(by[('dualchecker', 2)]['teacher_f1']):.3f}" in line
    others = {m for m, n in expected if m != "dualchecker"}
    assert all(f"| dualchecker (2) − {m} (" in paired for m in others)
    assert "| dualchecker (0)" not in paired  # it needs demonstrations: no 0-shot cell
    assert (out / "f1_by_method.png").stat().st_size > 10_000
    assert (out / "f1_by_shots.png").stat().st_size > 10_000

    # Re-running the grid runs nothing new: every cell is already in results.csv.
    again = Experiment(
        grid,
        llm=ScriptedChatModel(responder=lambda m: pytest.fail("no call expected")),
        embedder=HashingEmbedder(),
    ).run(progress=False)
    assert len(again) == len(rows)

    # A part of the grid, run on its own, still reports the whole grid's rows.
    part = Experiment(
        grid.only(methods=["zero-shot"]),
        llm=ScriptedChatModel(responder=lambda m: pytest.fail("no call expected")),
        embedder=HashingEmbedder(),
    ).run(progress=False, report=grid)
    assert len(part) == len(rows)
    assert (tmp_path / "grid" / "results.md").read_text() == table


def yes_f1(records: list[LabelledRecord]) -> float:
    """F1 of "yes" over kept answers, computed here rather than by the package."""
    return f1_score(
        [r.gold_label == "yes" for r in records],
        [r.label == "yes" for r in records],
        zero_division=0,
    )


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path.name


def spec_grid(tmp_path, threshold: float = 0.75) -> dict:
    """A grid over plain JSONL files the project does not know by name: three tasks, two seeds."""
    words = ["carbon", "solar", "wind", "revenue", "board", "sales", "waste", "profit"]
    texts = [f"Sentence {i} mentions {words[i % 8]} and more." for i in range(40)]
    binary = [
        {
            "id": f"b{i}",
            "text": t,
            "label": int(words[i % 8] in ("carbon", "solar", "wind", "waste")),
        }
        for i, t in enumerate(texts)
    ]
    multi = [
        {"id": f"m{i}", "text": t, "label": ["energy", "finance", "other"][i % 3]}
        for i, t in enumerate(texts)
    ]
    spans = [
        {
            "id": f"s{i}",
            "text": t,
            "spans": [
                {
                    "type": "TOPIC",
                    "start": t.index(words[i % 8]),
                    "end": t.index(words[i % 8]) + len(words[i % 8]),
                }
            ],
        }
        for i, t in enumerate(texts)
    ]
    tasks = {
        "bin": {
            "name": "green",
            "kind": "binary",
            "instructions": "Green?",
            "labels": [{"name": "no"}, {"name": "yes"}],
        },
        "multi": {
            "name": "topic",
            "kind": "multiclass",
            "instructions": "Which topic?",
            "labels": [{"name": "energy"}, {"name": "finance"}, {"name": "other"}],
        },
        "spans": {
            "name": "topic words",
            "kind": "spans",
            "instructions": "Quote the topic.",
            "span_types": [{"name": "topic-word", "description": "the topic word"}],
        },
    }
    data = {"bin": binary, "multi": multi, "spans": spans}
    datasets = []
    for name, rows in data.items():
        write_jsonl(tmp_path / f"{name}-train.jsonl", rows[:30])
        write_jsonl(tmp_path / f"{name}-eval.jsonl", rows[30:])
        source = {"label_map": {"0": "no", "1": "yes"}} if name == "bin" else {}
        if name == "spans":
            source = {"span_type_map": {"TOPIC": "topic-word"}}
        datasets.append(
            {
                "name": name,
                "task": tasks[name],
                "size": 8,
                "eval_size": 6,
                "labelled": {"path": f"{name}-train.jsonl", **source},
                "eval": {"path": f"{name}-eval.jsonl", **source},
            }
        )
    return {
        "out_dir": "grid",
        "datasets": datasets,
        "seeds": [0, 1],
        "n_shots": [0, 2],
        "methods": ["zero-shot", {"name": "dtot", "threshold": threshold}, "aligner"],
        "batch_size": 4,
        "retrieval": {"kind": "hashing"},
        "student": {"use_ray": False, "final": False},
    }


def spec_respond(messages):
    user = messages[-1].content
    if "You explain" in messages[0].content:
        return json.dumps({"rationale": "because"})
    text = user.rsplit("Text: ", 1)[-1].split("\n")[0]
    if "topic-word" in messages[0].content:
        word = next(
            (
                w
                for w in text.split()
                if w in ("carbon", "solar", "wind", "revenue", "board", "sales", "waste", "profit")
            ),
            "",
        )
        return json.dumps({"topic-word": [word], "confidence": 90})
    if "Which topic" in messages[0].content:
        return json.dumps(
            {"label": "energy" if "solar" in text or "wind" in text else "other", "confidence": 70}
        )
    green = any(w in text for w in ("carbon", "solar", "wind"))
    return json.dumps({"label": "yes" if green else "no", "confidence": 60 if "1" in text else 90})


def run_spec(tmp_path, spec: dict, responder=spec_respond) -> list[dict[str, str]]:
    """Write `spec` as the grid's YAML in `tmp_path` and run it with the scripted model."""
    import yaml

    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    return Experiment(
        GridConfig.from_yaml(path),
        llm=ScriptedChatModel(responder=responder),
        embedder=HashingEmbedder(),
    ).run(progress=False)


def test_a_grid_over_unknown_jsonl_files_has_intervals_and_reruns_only_what_changed(tmp_path):
    import yaml

    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec_grid(tmp_path)))
    grid = GridConfig.from_yaml(path)
    model = ScriptedChatModel(responder=spec_respond)
    rows = Experiment(grid, llm=model, embedder=HashingEmbedder()).run(progress=False)
    assert {r["dataset"] for r in rows} == {"bin", "multi", "spans"}
    assert {int(r["seed"]) for r in rows} == {0, 1}
    table = (tmp_path / "grid" / "results.md").read_text()
    dtot = next(line for line in table.splitlines() if line.startswith("| bin | dtot | 2 |"))
    cells_ = [c.strip() for c in dtot.split("|")]
    assert (
        cells_[4] == "2" and "[" in cells_[6] and cells_[7].startswith(("+", "-"))
    )  # CI, paired diff
    # a changed setting of one method reruns that method's cells only
    path.write_text(yaml.safe_dump(spec_grid(tmp_path, threshold=0.95)))
    grid = GridConfig.from_yaml(path)
    seen = []

    def counting(messages):
        seen.append(messages)
        return spec_respond(messages)

    again = Experiment(
        grid, llm=ScriptedChatModel(responder=counting), embedder=HashingEmbedder()
    ).run(progress=False)
    reran = {r["method"] for r in again} - {r["method"] for r in rows if r in again}
    assert reran == {"dtot"}
    assert len(again) == len(rows)


def test_an_edited_pool_file_reruns_the_cells_that_learn_from_it(tmp_path):
    spec = spec_grid(tmp_path)
    spec["datasets"] = spec["datasets"][:2]  # bin and multi
    spec["datasets"][0]["pool"] = {"path": "bin-pool.jsonl", "label_map": {"0": "no", "1": "yes"}}
    spec.update(seeds=[0], methods=["aligner"], n_shots=[2])
    rows = [json.loads(line) for line in (tmp_path / "bin-train.jsonl").read_text().splitlines()]
    # a human pool of its own: none of its texts is among the records labelled
    pool = [{**r, "id": f"p{r['id']}", "text": f"Also: {r['text']}"} for r in rows]
    write_jsonl(tmp_path / "bin-pool.jsonl", pool)
    first = run_spec(tmp_path, spec)
    # the same file name, one human label changed: bin's cells run again, multi's do not
    pool[0]["label"] = 1 - pool[0]["label"]
    write_jsonl(tmp_path / "bin-pool.jsonl", pool)
    again = run_spec(tmp_path, spec)
    assert {r["dataset"] for r in again if r not in first} == {"bin"}
    assert len(again) == len(first) == 2


def test_rekeying_moves_cells_keyed_by_ids_to_the_content_key_without_rerunning(
    tmp_path, monkeypatch
):
    import csv
    import importlib.util
    import sys
    from pathlib import Path

    import yaml

    spec = spec_grid(tmp_path)
    spec.update(datasets=spec["datasets"][:1], seeds=[0], methods=["zero-shot", "aligner"])
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    grid = GridConfig.from_yaml(path)
    experiment = Experiment(
        grid, llm=ScriptedChatModel(responder=spec_respond), embedder=HashingEmbedder()
    )
    rows = experiment.run(progress=False)
    script = Path(__file__).parents[2] / "benchmarks" / "rekey_grid.py"
    module_spec = importlib.util.spec_from_file_location("rekey_grid", script)
    rekey = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(rekey)
    # what a grid run before content keys left: results.csv keyed by the earlier formula
    earlier = {}
    for cell in cells(grid):
        config, key, (_, labelled, _, held_out) = experiment.plan(*cell)
        earlier[key] = rekey.earlier_key(config, labelled, held_out, "labelled")
    csv_path = Path(grid.out_dir) / "results.csv"
    with csv_path.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    for row in table:
        row["config"] = earlier[row["config"]]
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    assert experiment.current_rows() == []  # under today's keys, nothing is current
    monkeypatch.setattr(sys, "argv", ["rekey_grid.py", str(path)])
    rekey.main()
    again = Experiment(
        grid,
        llm=ScriptedChatModel(responder=lambda m: pytest.fail("no call expected")),
        embedder=HashingEmbedder(),
    ).run(progress=False)
    assert [r["config"] for r in again] == [r["config"] for r in rows]


def test_final_students_keep_held_out_answers_that_give_intervals_and_pairs(tmp_path, tiny):
    from dualchecker.grid_report import (
        _paired_students,
        gold_student_answers,
        paired_table,
        pooled_student_f1,
        student_answers,
    )

    spec = spec_grid(tmp_path)
    spec["datasets"] = [d for d in spec["datasets"] if d["name"] in ("bin", "spans")]
    spec["methods"], spec["n_shots"] = ["zero-shot", "aligner"], [2]
    spec["student"] = {"model": tiny, "use_ray": False, "epochs_per_batch": 1, "final_epochs": 1}
    rows = run_spec(tmp_path, spec)
    out = tmp_path / "grid"
    for row in rows:
        answers = read_records(student_answers(out, row))
        gold = read_records(gold_student_answers(out, row["dataset"], row["seed"]))
        assert [a.id for a in answers] == [g.id for g in gold] and len(answers) == 6
        assert all(a.gold_label or a.gold_spans for a in answers)  # scored against gold
        # the kept answers give back the F1 the run reported
        f1 = float(row["student_f1"])
        task, _ = cell_records(out, row)
        point, _, _ = bootstrap_f1(task, answers)
        assert point == pytest.approx(f1)
    table = (out / "results.md").read_text()
    line = next(x for x in table.splitlines() if x.startswith("| bin | aligner | 2 |"))
    student, gold_student = [c.strip() for c in line.split("|")][8:10]
    assert "[" in student and "[" in gold_student  # pooled over both seeds, with intervals
    by = {(r["dataset"], r["method"], r["seed"]): r for r in rows}
    mine = [by[("bin", "aligner", s)] for s in ("0", "1")]
    # a student against itself differs by exactly nothing
    assert _paired_students(out, mine, mine) == "+0.000 [+0.000, +0.000]"
    paired = paired_table(rows, out, anchor="aligner")
    assert "| bin | aligner (2) − zero-shot (0) |" in paired
    human = next(x for x in paired.splitlines() if "aligner (2) − human labels" in x)
    assert human.split("|")[4].strip().startswith(("+", "-"))
    point, low, high = pooled_student_f1(out, mine)  # the plot's student bars and error bars
    pooled = [r for row in mine for r in read_records(student_answers(out, row))]
    assert point == pytest.approx(yes_f1(pooled)) and low <= point <= high


def test_bootstrap_point_estimates_equal_teacher_scores():
    import random

    from dualchecker.agents.types import LabelledRecord, Span
    from dualchecker.evaluation import bootstrap_f1, teacher_scores
    from tests.fakes import BINARY, MULTICLASS, SPANS

    rng = random.Random(0)
    for task in (BINARY, MULTICLASS):
        labelled = [
            LabelledRecord(
                id=str(i),
                text="t",
                gold_label=rng.choice(task.label_names),
                label=rng.choice(task.label_names),
            )
            for i in range(60)
        ]
        labelled[0] = labelled[0].model_copy(update={"label": None, "error": "parse"})
        point, low, high = bootstrap_f1(task, labelled, reps=200)
        assert point == pytest.approx(teacher_scores(task, labelled)["f1"]) and low <= point <= high
    span = lambda a, b: Span(type="cause", start=a, end=b)
    spans = [
        LabelledRecord(
            id=str(i),
            text="x" * 20,
            gold_spans=[span(0, 4)],
            spans=[span(0, 4)] if i % 3 else [span(1, 4)],
        )
        for i in range(30)
    ]
    assert bootstrap_f1(SPANS, spans, reps=50)[0] == pytest.approx(
        teacher_scores(SPANS, spans)["f1"]
    )


def test_a_text_scored_in_several_seeds_is_resampled_as_one_unit():
    import random

    from dualchecker.agents.types import LabelledRecord
    from dualchecker.evaluation import bootstrap_f1
    from tests.fakes import BINARY

    rng = random.Random(1)
    texts = [
        LabelledRecord(
            id=f"{i:02d}",  # sorted as listed: same draws as below
            text="t",
            gold_label=rng.choice(BINARY.label_names),
            label=rng.choice(BINARY.label_names),
        )
        for i in range(50)
    ]
    three_seeds = texts * 3
    naive = bootstrap_f1(BINARY, three_seeds, reps=300)
    clustered = bootstrap_f1(BINARY, three_seeds, clusters=[r.id for r in three_seeds], reps=300)
    # F1 does not change when every count is tripled: resampling texts is resampling the 50.
    assert clustered == pytest.approx(bootstrap_f1(BINARY, texts, reps=300))
    assert clustered[0] == naive[0] and clustered[2] - clustered[1] > naive[2] - naive[1]
    paired = bootstrap_f1(
        BINARY, three_seeds, against=three_seeds[::-1], clusters=[r.id for r in three_seeds]
    )
    assert paired[0] == 0.0
    with pytest.raises(ValueError, match="2 cluster names for 150 records"):
        bootstrap_f1(BINARY, three_seeds, clusters=["a", "b"])


def test_a_grid_runs_in_parts_by_dataset_method_or_seed_and_refuses_unknown_names():
    grid = GridConfig.model_validate(
        {"datasets": [{"name": "environmental_claims"}, {"name": "cnc_spans"}], "seeds": [0, 1, 2]}
    )
    part = grid.only(["cnc_spans"])
    assert [d.name for d in part.datasets] == ["cnc_spans"]
    assert part.methods == grid.methods and part.seeds == grid.seeds
    with pytest.raises(ConfigError, match=r"no datasets \['claims'\].*environmental_claims"):
        grid.only(["claims"])
    main = grid.only(methods=["dualchecker", "zero-shot"])
    assert main.methods == ["zero-shot", "dualchecker"] and main.datasets == grid.datasets
    assert {m for _, m, _, _ in cells(main)} == {"zero-shot", "dualchecker"}
    with pytest.raises(ConfigError, match=r"no methods \['dual'\]"):
        grid.only(methods=["dual"])
    second = grid.only(methods=["dualchecker"], seeds=[1])
    assert {(m, seed) for _, m, _, seed in cells(second)} == {("dualchecker", 1)}
    with pytest.raises(ConfigError, match=r"no seeds \[7\]"):
        grid.only(seeds=[7])


def test_zero_shot_is_the_anchor_even_when_the_grid_only_lists_higher_shots():
    grid = GridConfig.model_validate(
        {
            "datasets": [{"name": "environmental_claims"}],
            "methods": ["zero-shot", "few-shot", "cot"],
            "n_shots": [5],
            "seeds": [0, 1],
        }
    )
    runs = sorted((m, n, seed) for _, m, n, seed in cells(grid))
    assert runs == [
        ("cot", 5, 0), ("cot", 5, 1), ("few-shot", 5, 0), ("few-shot", 5, 1),
        ("zero-shot", 0, 0), ("zero-shot", 0, 1),
    ]  # fmt: skip


def test_results_written_by_an_older_version_keep_their_values_under_their_names(tmp_path):
    import csv

    from dualchecker.experiment import COLUMNS, _append_csv, _read_csv

    older = [c for c in COLUMNS if c != "cached_seconds"]
    path = tmp_path / "results.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=older)
        writer.writeheader()
        writer.writerow({c: f"old-{c}" for c in older})
    _append_csv(path, {c: f"new-{c}" for c in COLUMNS})
    first, second = _read_csv(path)
    assert all(first[c] == f"old-{c}" for c in older) and first["cached_seconds"] == ""
    assert all(second[c] == f"new-{c}" for c in COLUMNS)


def test_a_resumed_cell_counts_the_seconds_its_killed_process_spent(tmp_path, tiny, monkeypatch):
    import types

    from dualchecker import experiment as module
    from dualchecker.graph.store import ResultStore

    grid = GridConfig.model_validate(
        {
            "out_dir": str(tmp_path / "grid"),
            "data_dir": str(DATA),
            "datasets": [{"name": "environmental_claims", "size": 4, "eval_size": 4}],
            "methods": ["zero-shot"],
            "batch_size": 4,
            "retrieval": {"kind": "hashing"},
            "student": {"model": tiny, "use_ray": False, "final_epochs": 1},
        }
    )
    experiment = Experiment(
        grid, llm=ScriptedChatModel(responder=respond), embedder=HashingEmbedder()
    )
    config, key, _ = experiment.plan(*cells(grid)[0])
    cell = tmp_path / "grid" / "cells" / config.run.dir.name
    cell.mkdir(parents=True)
    (cell / "provenance.txt").write_text(key + "\n")
    ResultStore(cell / "results.sqlite").set_meta("seconds", "100")  # the killed process's time
    clock = iter([1000.0, 1012.5])  # the cell's start and end as this process's clock reads them
    monkeypatch.setattr(module, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    (row,) = experiment.run(progress=False)
    assert float(row["seconds"]) == 100 + 12.5


def test_a_preset_can_take_the_rest_of_its_split_as_a_disjoint_human_pool(tmp_path):
    from dualchecker.agents.aligner import normalise_text

    def grid(**dataset):
        return GridConfig.model_validate(
            {
                "out_dir": str(tmp_path / "grid"),
                "data_dir": str(DATA),
                "datasets": [{"name": "environmental_claims", "size": 8, **dataset}],
                "methods": ["dualchecker"],
                "n_shots": [2],
                "retrieval": {"kind": "hashing"},
            }
        )

    own, rest = (
        Experiment(grid(**d), llm=ScriptedChatModel(responder=respond))
        for d in ({}, {"human_pool": "rest"})
    )
    cell = cells(own.grid)[0]
    _, labelled, own_pool, _ = own._data(cell[0], 0)
    _, same_sample, rest_pool, rest_held_out = rest._data(cells(rest.grid)[0][0], 0)
    texts = lambda records: {normalise_text(r.text) for r in records}
    assert not texts(rest_pool) & texts(rest_held_out)  # nothing evaluated is in the pool
    assert own_pool == labelled and [r.id for r in same_sample] == [r.id for r in labelled]
    assert not {r.id for r in rest_pool} & {r.id for r in labelled} and len(rest_pool) > 1000
    # a different pool is a different cell
    config, key, (_, _, pool, held_out) = own.plan(*cell)
    assert key == config_key(config, labelled, pool, held_out)
    assert key != rest.plan(*cells(rest.grid)[0])[1]
    with pytest.raises(ValueError, match="names its pool file"):
        DatasetSpec.model_validate(
            {
                "name": "x",
                "task": {
                    "name": "t",
                    "kind": "binary",
                    "instructions": "?",
                    "labels": [{"name": "no"}, {"name": "yes"}],
                },
                "labelled": {"path": "a.jsonl"},
                "eval": {"path": "b.jsonl"},
                "human_pool": "rest",
            }
        )


def test_the_cli_runs_a_part_of_a_grid_and_still_reports_all_of_it(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from dualchecker.cli import app

    spec = spec_grid(tmp_path)
    reply = json.dumps({"label": "yes", "confidence": 80, "rationale": "scripted"})
    spec.update(
        datasets=spec["datasets"][:1],
        seeds=[0, 1],
        methods=["zero-shot", "few-shot"],
        n_shots=[2],
        backend={"kind": "scripted", "params": {"rules": [{"replies": [reply]}]}},
    )
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec))
    runner = CliRunner()
    first = runner.invoke(app, ["experiment", str(path), "--no-progress", "--method", "few-shot"])
    assert first.exit_code == 0, first.output
    assert (
        "| bin | few-shot | 2 | 2 |" in first.output and "| bin | zero-shot |" not in first.output
    )
    part = runner.invoke(
        app, ["experiment", str(path), "--no-progress", "--method", "zero-shot", "--seed", "1"]
    )
    assert part.exit_code == 0, part.output
    table = (tmp_path / "grid" / "results.md").read_text()
    assert "| bin | zero-shot | 0 | 1 |" in table and "| bin | few-shot | 2 | 2 |" in table
    wrong = runner.invoke(app, ["experiment", str(path), "--seed", "7"])
    assert wrong.exit_code == 2 and "no seeds [7]" in wrong.output


def progress_grid(tmp_path, tiny, name: str) -> GridConfig:
    return GridConfig.model_validate(
        {
            "out_dir": str(tmp_path / name),
            "data_dir": str(DATA),
            "datasets": [{"name": "environmental_claims", "size": 6, "eval_size": 4}],
            "methods": ["zero-shot"],
            "n_shots": [0],
            "batch_size": 6,
            "retrieval": {"kind": "hashing"},
            "student": {"model": tiny, "use_ray": False, "epochs_per_batch": 1, "final_epochs": 1},
        }
    )


def test_a_grid_cell_shows_each_record_as_it_is_labelled_and_no_progress_hides_it(
    tmp_path, tiny, capsys
):
    calls = []

    def marked(messages):  # each teacher call leaves a mark in the same stream as the bars
        calls.append(1)
        print(f"<teacher call {len(calls)}>", file=sys.stderr, flush=True)
        return respond(messages)

    # slow enough for tqdm (which redraws at most every 0.1 s) to draw the records in between
    model = ScriptedChatModel(responder=marked, delay_s=0.15)
    capsys.readouterr()
    Experiment(progress_grid(tmp_path, tiny, "shown"), llm=model, embedder=HashingEmbedder()).run()
    err = capsys.readouterr().err
    assert len(calls) == 6  # one call per record: the last mark is the cell's last record
    last_call = err.index("<teacher call 6>")
    bar = re.compile(
        r"environmental_claims__zero-shot__0shot__seed0:\s+\d+%\|[^|]*\| (\d)/6 \[([^\]]*)\]"
    )
    before = [m for m in bar.finditer(err) if m.start() < last_call and m.group(1) != "0"]
    assert before, err  # records counted one by one while the cell still runs
    assert re.search(r"<\d\d:\d\d", before[-1].group(2))  # with an ETA
    assert "gold-label student, environmental_claims seed 0: fine-tuning" in err  # its epochs
    assert "student: fine-tuning" in err  # the cell's final student

    Experiment(
        progress_grid(tmp_path, tiny, "quiet"),
        llm=ScriptedChatModel(responder=respond),
        embedder=HashingEmbedder(),
    ).run(progress=False)
    quiet = capsys.readouterr().err
    assert "%|" not in quiet and "▶" not in quiet
