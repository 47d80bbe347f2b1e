"""No path for the inputs' gold into their labels: a pool sharing their texts is refused (or,
allowed, kept out of what the pool probe and tagger train on), small span pools are shared
out-of-fold, and the student checker reads the inputs' gold only when a human stands behind it."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import dualchecker
from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.checkers import StudentChecker
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.span_probe import SpanProbe
from dualchecker.agents.types import Record
from dualchecker.cli import app
from dualchecker.data import DataSource
from dualchecker.errors import DataError
from dualchecker.events import read_events
from dualchecker.experiment import Experiment, GridConfig, human_labels
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.graph.nodes import calibration_sample
from dualchecker.runner import Run
from dualchecker.training.testing import save_tiny_student
from tests.fakes import BINARY, SPANS, SpyTrainer, scripted_teacher, span_record, toy_records

GREEN = ["cuts carbon emissions", "runs on wind power", "recycles its waste", "saves energy"]
OTHER = ["reported higher revenue", "hired a new board", "opened an office", "paid a dividend"]


def claim(rid: str, i: int) -> Record:
    green = i % 2 == 0
    phrase = (GREEN if green else OTHER)[i // 2 % 4]
    return Record(id=rid, text=f"Plant {i} {phrase}.", label="yes" if green else "no")


POOL = [claim(f"p{i}", i) for i in range(40)]
# ten inputs whose texts are the pool's first ten (under other ids), and two of their own
INPUTS = [claim(f"i{i}", i) for i in range(10)] + [claim(f"i{i}", i) for i in range(40, 42)]
OVERLAP = "10 inputs also appear in the pool: i0 = pool p0, i1 = pool p1"


def answer(text: str, reprompt: bool) -> dict:
    return {"label": "yes" if any(p in text for p in GREEN) else "no", "confidence": 80}


def texts(records) -> set[str]:
    return {normalise_text(r.text) for r in records}


def write_jsonl(path, records: list[Record]) -> str:
    path.write_text(
        "".join(json.dumps({"id": r.id, "text": r.text, "label": r.label}) + "\n" for r in records)
    )
    return str(path)


def test_the_cli_refuses_a_pool_that_shares_texts_with_the_inputs_and_names_them(tmp_path):
    config = {
        "task": BINARY.model_dump(mode="json"),
        "inputs": {"path": write_jsonl(tmp_path / "inputs.jsonl", INPUTS)},
        "pool": {"path": write_jsonl(tmp_path / "pool.jsonl", POOL)},
        "backend": {"kind": "scripted", "params": {"rules": [{"replies": ["{}"]}]}},
        "method": "zero-shot",
        "retrieval": {"kind": "hashing"},
        "run": {"dir": str(tmp_path / "run")},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["label", str(path)])
    assert result.exit_code == 2
    assert OVERLAP in result.output and "(and 2 more)" in result.output
    assert "run.allow_pool_overlap" in result.output
    assert not (tmp_path / "run").exists()


def test_an_experiment_refuses_such_a_pool_before_any_cell_runs(tmp_path):
    task = BINARY.model_dump(mode="json")
    spec = {
        "out_dir": str(tmp_path / "grid"),
        "datasets": [
            {
                "name": "green",
                "task": task,
                "labelled": {"path": write_jsonl(tmp_path / "labelled.jsonl", INPUTS)},
                "pool": {"path": write_jsonl(tmp_path / "pool.jsonl", POOL)},
                "eval": {"path": write_jsonl(tmp_path / "eval.jsonl", [claim("e0", 50)])},
            }
        ],
        "methods": ["zero-shot"],
        "retrieval": {"kind": "hashing"},
        "student": {"use_ray": False, "final": False},
    }
    grid = Experiment(GridConfig.model_validate(spec), embedder=HashingEmbedder())
    with pytest.raises(DataError, match="10 labelled records of green also appear") as error:
        grid.run(progress=False)
    assert "i0 = pool of green p0" in str(error.value) and "(and 2 more)" in str(error.value)
    assert not (tmp_path / "grid" / "cells").exists()
    allowed = Experiment(
        GridConfig.model_validate({**spec, "allow_pool_overlap": True}), embedder=HashingEmbedder()
    )
    config, _, _ = allowed.plan(allowed.grid.datasets[0], "zero-shot", 0, 0)
    assert config.run.allow_pool_overlap


def test_label_refuses_such_a_pool_and_with_the_opt_in_labels_every_text(tmp_path):
    llm = scripted_teacher(answer)
    rows = lambda records: [{"id": r.id, "text": r.text, "label": r.label} for r in records]
    with pytest.raises(DataError, match=OVERLAP):
        dualchecker.label(BINARY, rows(POOL), rows(INPUTS), llm=llm, embedder=HashingEmbedder())
    labelled = dualchecker.label(
        BINARY,
        rows(POOL),
        [r.text for r in INPUTS],
        llm=llm,
        embedder=HashingEmbedder(),
        run_dir=tmp_path / "run",
        allow_pool_overlap=True,
    )
    assert len(labelled) == len(INPUTS) and all(r.ok for r in labelled)


def allowed(tmp_path, task, preset: dict, **settings) -> RunConfig:
    return RunConfig(
        task=task,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        method=method("dualchecker", student=False, student_checker=False, **preset),
        run=RunSettings(dir=tmp_path / "run", batch_size=4, **settings),
    )


def test_with_the_opt_in_the_label_probe_never_trains_on_an_input_text(tmp_path):
    config = allowed(tmp_path, BINARY, {"n_shot": 1}, allow_pool_overlap=True)
    run = Run(
        config, llm=scripted_teacher(answer), embedder=HashingEmbedder(), inputs=INPUTS, pool=POOL
    )
    run.execute(progress=False)
    index = run.ctx.aligner.index
    trained = index.probe_training(BINARY.label_names)
    assert texts(POOL) & texts(INPUTS)  # the pool did hold ten input texts
    assert len(trained) == 30 and not texts(trained) & texts(INPUTS)
    # the fitted probe's out-of-fold answers cover exactly what it trained on
    _, out_of_fold = index._probe  # noqa: SLF001
    assert set(out_of_fold) == texts(trained)


def span_claim(rid: str, i: int) -> Record:
    tech = ["heat pump", "LED lamp", "solar roof", "wind farm"][i % 4]
    effect = ["cuts fuel use", "lowers demand", "saves water", "reduces waste"][i // 4 % 4]
    return span_record(rid, f"Our {tech} {effect} at site {i}.", tech, effect)


def span_answer(text: str, reprompt: bool) -> dict:
    """The right clause; on odd sites the cause without its first word (a boundary miss)."""
    words = text.split()
    cause = words[1:3] if int(words[-1].rstrip(".")) % 2 == 0 else words[2:3]
    return {"cause": " ".join(cause), "effect": " ".join(words[3:-3]), "confidence": 80}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_student(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def fitted_sets(monkeypatch):
    """The texts of every training set a span tagger is fitted on, in order."""
    from dualchecker.training.trainer import StudentTrainer

    seen: list[frozenset[str]] = []
    fit = StudentTrainer.fit

    def spy(self, examples, *args, **kwargs):
        seen.append(frozenset(normalise_text(e.text) for e in examples))
        return fit(self, examples, *args, **kwargs)

    monkeypatch.setattr(StudentTrainer, "fit", spy)
    return seen


def span_run(tmp_path, tiny, pool, inputs, **settings) -> Run:
    preset = {"n_shot": 1, "span_probe_model": tiny, "span_probe_epochs": 1}
    config = allowed(tmp_path, SPANS, preset, **settings)
    run = Run(
        config,
        llm=scripted_teacher(span_answer),
        embedder=HashingEmbedder(),
        inputs=inputs,
        pool=pool,
    )
    run.execute(progress=False)
    return run


def test_at_pool_32_the_span_tagger_and_calibration_are_fitted_out_of_fold(
    tmp_path, tiny, fitted_sets
):
    pool = [span_claim(f"p{i}", i) for i in range(32)]
    inputs = [span_claim(f"i{i}", i) for i in range(32, 40)]
    run = span_run(tmp_path, tiny, pool, inputs)
    probe = run.ctx.span_probe
    assert probe is not None and probe.cross_fitted
    events = read_events(tmp_path / "run" / "events.jsonl")
    fitted = [e for e in events if e.agent == "calibration" and e.kind == "fitted"]
    assert len(fitted) == 1 and fitted[0].data["answered"] == 32  # the whole pool, not dropped
    sample = calibration_sample(pool, inputs, 120, 0)
    assert texts(sample) == texts(pool)
    for example in sample:  # answered by a tagger fitted without it, on most of the pool
        own = texts(probe.training_for(example))
        assert normalise_text(example.text) not in own and len(own) == 24
        assert own in fitted_sets
    # four fold taggers and one on the whole pool for the inputs; none saw an input's text
    assert sorted(len(s) for s in fitted_sets) == [24, 24, 24, 24, 32]
    assert all(not s & texts(inputs) for s in fitted_sets)
    assert texts(probe.training_for(inputs[0])) == texts(pool)


def test_with_the_opt_in_the_span_tagger_never_trains_on_an_input_text(tmp_path, tiny, fitted_sets):
    pool = [span_claim(f"p{i}", i) for i in range(40)]
    inputs = [span_claim(f"i{i}", i) for i in range(4)] + [span_claim("i40", 40)]
    with pytest.raises(DataError, match="4 inputs also appear in the pool: i0 = pool p0"):
        Run(allowed(tmp_path, SPANS, {}), inputs=inputs, pool=pool)
    run = span_run(tmp_path, tiny, pool, inputs, allow_pool_overlap=True)
    assert fitted_sets and all(not s & texts(inputs) for s in fitted_sets)
    for record in inputs:
        assert not texts(run.ctx.span_probe.training_for(record)) & texts(inputs)


def test_a_large_span_pool_keeps_one_held_out_split_and_a_small_one_is_cross_fitted():
    pool = [span_claim(f"p{i}", i) for i in range(200)]
    held = texts(pool[:40])
    large = SpanProbe(SPANS, pool, held_out=held)
    small = SpanProbe(SPANS, pool[:100], held_out=held)
    assert not large.cross_fitted and small.cross_fitted
    one = {frozenset(texts(large.training_for(r))) for r in pool[:45]}
    assert one == {frozenset(texts(pool[40:]))}  # one tagger (one fit) answers everything
    folds = {frozenset(texts(small.training_for(r))) for r in pool[:45]}
    assert len(folds) == 5 and all(len(f) == 90 for f in folds if len(f) != 100)


ROWS = toy_records("claims_six")


@pytest.mark.parametrize("feedback", [False, True])
def test_the_student_checker_reads_the_inputs_gold_only_when_a_human_stands_behind_it(
    tmp_path, monkeypatch, feedback
):
    import dualchecker.distill as distill

    monkeypatch.setattr(distill, "make_trainer", lambda config, settings: SpyTrainer(0.55))
    read: list = []

    class Spy(StudentChecker):
        def _judge(self, task, item, said):
            read.append(item)
            return super()._judge(task, item, said)

    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("dualchecker", n_shot=1, teacher_checker=False),
        student=StudentSettings(use_ray=False, final=False),
        run=RunSettings(dir=tmp_path / "run", batch_size=2, inputs_gold_for_feedback=feedback),
    )
    teacher = scripted_teacher(lambda text, re: {"label": "no", "confidence": 95})
    run = Run(config, llm=teacher, embedder=HashingEmbedder(), inputs=ROWS, pool=ROWS)
    run.ctx.student_checker = Spy(per_batch=1)
    run.execute(progress=False)
    assert len(read) == len(ROWS) and all(r.has_gold for r in ROWS)
    golds = [r.gold_label for r in read]
    counts = human_labels(tmp_path / "run")
    if feedback:  # every gold read; the student's 'no' on r1 (gold 'yes') fed back
        assert golds == [r.label for r in ROWS]
        assert counts["human_labels_read"] == len(ROWS) and counts["human_labels_used"] >= 1
    else:
        assert golds == [None] * len(ROWS)
        assert counts == {"human_labels_read": 0, "human_labels_used": 0}
