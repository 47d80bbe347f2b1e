"""The student side of the loop: borderline cases, template refinement, and no gold leakage."""

from __future__ import annotations

import pytest

from dualchecker.agents.checkers import StudentAnswer, StudentChecker, UncertaintyChecker
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.student import teacher_examples
from dualchecker.agents.types import LabelledRecord, Span
from dualchecker.data import DataSource
from dualchecker.distill import TRAINER_FIELDS, student_config
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run
from tests.fakes import BINARY, SPANS, SpyTrainer, scripted_teacher, toy_records


def labelled(rid, label, gold, ok=True):
    return LabelledRecord(
        id=rid,
        text=f"text {rid}",
        label=label if ok else None,
        gold_label=gold,
        confidence=0.9 if ok else None,
        error=None if ok else "parse: bad",
    )


def said(label: str, confidence: float) -> StudentAnswer:
    return StudentAnswer(label=label, confidence=confidence)


def test_checker_picks_the_least_confident_wrong_case():
    items = [
        labelled("a", "yes", "yes"),
        labelled("b", "no", "yes"),
        labelled("c", "no", "no"),
        labelled("d", "yes", "no"),
    ]
    student = [said("yes", 0.9), said("no", 0.8), said("yes", 0.51), said("yes", 0.6)]
    cases = StudentChecker(per_batch=1).borderline(BINARY, items, student)
    assert [(c.record_id, c.reason, c.reference_label) for c in cases] == [
        ("c", "wrong vs gold", "no")
    ]
    two = StudentChecker(per_batch=2).borderline(BINARY, items, student)
    assert [c.record_id for c in two] == ["c", "d"]  # b is wrong too but more confident


def test_checker_without_gold_uses_disagreement_then_margin():
    items = [labelled("a", "yes", None), labelled("b", "no", None), labelled("c", "yes", None)]
    student = [said("yes", 0.55), said("yes", 0.95), said("yes", 0.99)]
    cases = StudentChecker(per_batch=3, margin=0.6).borderline(BINARY, items, student)
    assert [(c.record_id, c.reason) for c in cases] == [
        ("b", "disagrees with teacher"),
        ("a", "low margin"),
    ]


def test_uncertainty_checker_takes_every_unsure_answered_case_least_sure_first():
    items = [
        labelled("a", "yes", "yes"),
        labelled("b", "no", "yes"),
        labelled("c", "yes", None, ok=False),
        labelled("d", "no", None),
    ]
    student = [said("yes", 0.9), said("no", 0.5), said("no", 0.3), said("no", 0.97)]
    cases = UncertaintyChecker().borderline(BINARY, items, student)
    # right or wrong alike; c has no teacher answer, d is sure enough
    assert [(c.record_id, c.reason, c.reference_label) for c in cases] == [
        ("b", "low margin", "no"),
        ("a", "low margin", "yes"),
    ]
    assert len(UncertaintyChecker(per_batch=1).borderline(BINARY, items, student)) == 1


def test_span_checker_compares_span_sets_not_tokens():
    cause = Span(type="cause", start=0, end=4, text="Rain")
    effect = Span(type="effect", start=12, end=18, text="floods")
    item = LabelledRecord(
        id="s",
        text="Rain caused floods",
        spans=[cause, effect],
        gold_spans=[cause, effect],
        confidence=0.9,
    )
    exact = StudentChecker().borderline(
        SPANS, [item], [StudentAnswer(spans=[effect, cause], confidence=0.7)]
    )
    assert exact == []
    near = Span(type="effect", start=5, end=18, text="caused floods")
    assert (
        StudentChecker()
        .borderline(SPANS, [item], [StudentAnswer(spans=[cause, near], confidence=0.7)])[0]
        .reason
        == "wrong vs gold"
    )


def test_gold_labels_never_become_training_labels():
    items = [
        labelled("a", "no", "yes"),
        labelled("b", "yes", "no"),
        labelled("c", None, "yes", ok=False),
    ]
    examples, left_out = teacher_examples(BINARY, items)
    assert [(e.id, e.label) for e in examples] == [("a", 0), ("b", 1)]  # teacher's, not gold's
    assert left_out == 1


ROWS = toy_records("claims_six")


def test_borderline_case_refines_the_next_batch_prompts(tmp_path, monkeypatch):
    import dualchecker.distill as distill

    spy = SpyTrainer(confidence=0.55)
    monkeypatch.setattr(distill, "make_trainer", lambda config, settings: spy)
    teacher = scripted_teacher(lambda text, re: {"label": "no", "confidence": 95, "rationale": "r"})
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("dualchecker", n_shot=1, teacher_checker=False),
        student=StudentSettings(use_ray=False, final=False),
        # a human answers the student checker with the inputs' gold
        run=RunSettings(dir=tmp_path / "run", batch_size=2, inputs_gold_for_feedback=True),
    )
    run = Run(config, llm=teacher, embedder=HashingEmbedder(), inputs=ROWS, pool=ROWS)
    run.execute(progress=False)
    # The teacher said "no" to everything; the student learned exactly that, never the gold "yes".
    assert {e.label for e in spy.seen} == {0}
    # Batch 1 (r1, r2): the student says "no" to r1 whose gold is "yes" → template gets r1.
    from dualchecker.events import read_events

    events = read_events(tmp_path / "run" / "events.jsonl")
    template_by_record = {
        e.record_id: [d["record_id"] for d in e.data["demonstrations"] if d["source"] == "template"]
        for e in events
        if e.kind == "demonstrations"
    }
    assert template_by_record["r1"] == template_by_record["r2"] == []
    assert template_by_record["r3"] == template_by_record["r4"] == ["r1"]
    assert template_by_record["r5"] == template_by_record["r6"] == ["r1", "r3"]  # template_size=2
    feedback = [p for p in teacher.prompts if "A student model answered" in p[-1].content]
    assert len(feedback) == 3 and '"no"' in feedback[0][-1].content
    r3_prompt = next(
        p
        for p in teacher.prompts
        if p[-1]
        .content.rstrip()
        .endswith("Text: Our factories run on wind power.\n\nAnswer (JSON only):")
    )
    assert r3_prompt[-1].content.index("We cut carbon") < r3_prompt[-1].content.index(
        "Text: Our factories"
    )
    kinds = [e.kind for e in events]
    assert kinds.count("template_changed") == 3 and kinds.count("batch_trained") == 3


def test_evokd_writes_samples_from_uncertain_cases_and_trains_on_them(tmp_path, monkeypatch):
    import json

    import dualchecker.distill as distill
    from tests.fakes import current_text

    spy = SpyTrainer(confidence=0.55)
    monkeypatch.setattr(distill, "make_trainer", lambda config, settings: spy)

    def respond(messages):
        content = messages[-1].content
        if "Summarise" in content:
            assert 'Student\'s answer: "no" (confidence 0.55)' in content  # the real prediction
            return json.dumps({"rationale": "It misses green claims about energy."})
        if "Write two new texts" in content:
            return json.dumps(
                {
                    "samples": [
                        {"text": "We switched our fleet to electric vans.", "label": "yes"},
                        {"text": "Profit doubled.", "label": "maybe"},
                    ]
                }
            )
        label = "yes" if "carbon" in current_text(messages) else "no"
        return json.dumps({"label": label, "confidence": 90, "rationale": "r"})

    from dualchecker.agents.scripted import ScriptedChatModel

    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("evokd", n_shot=1),
        student=StudentSettings(use_ray=False, final=False),
        run=RunSettings(dir=tmp_path / "run", batch_size=3),
    )
    run = Run(
        config,
        llm=ScriptedChatModel(responder=respond),
        embedder=HashingEmbedder(),
        inputs=ROWS,
        pool=ROWS,
    )
    run.execute(progress=False)
    synthetic = run.store.synthetic()
    assert [(s.text, s.label) for s in synthetic] == [
        ("We switched our fleet to electric vans.", "yes")
    ] * 2
    trained_texts = [e.text for e in spy.seen]
    assert trained_texts.count("We switched our fleet to electric vans.") == 2  # once per batch
    from dualchecker.events import read_events

    written = [
        e for e in read_events(tmp_path / "run" / "events.jsonl") if e.kind == "samples_written"
    ]
    assert len(written) == 2 and "not one of" in written[0].data["rejected"][0]


def test_the_distilled_student_is_saved_as_a_transformers_model_even_without_eval_data(tmp_path):
    from transformers import AutoModelForSequenceClassification

    from dualchecker.events import read_events
    from dualchecker.training.testing import save_tiny_student

    tiny = save_tiny_student(tmp_path / "tiny")
    teacher = scripted_teacher(
        lambda text, re: {"label": "yes" if "wind" in text else "no", "confidence": 95}
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("dualchecker-verbalised", n_shot=1, teacher_checker=False),
        student=StudentSettings(use_ray=False, model=tiny, final_epochs=1),
        run=RunSettings(dir=tmp_path / "run", batch_size=3),
    )
    summary = Run(config, llm=teacher, embedder=HashingEmbedder(), inputs=ROWS, pool=ROWS).execute(
        progress=False
    )
    saved = tmp_path / "run" / "student"
    assert summary.outputs["student"] == str(saved)
    assert summary.student["n_test"] == 0 and summary.student["teacher_labels"]["f1"] is None
    assert "gold_labels" not in summary.student  # nothing to compare it with
    trained = [
        e.seconds
        for e in read_events(tmp_path / "run" / "events.jsonl")
        if e.kind == "batch_trained"
    ]
    assert len(trained) == 2 and summary.seconds_by_phase["online_student"] == pytest.approx(
        sum(trained)
    )
    assert summary.seconds_by_phase["online_student"] > 0
    model = AutoModelForSequenceClassification.from_pretrained(saved)
    assert model.config.id2label == {0: "no", 1: "yes"}


def test_the_trainer_gets_the_student_settings_it_shares_by_name():
    settings = StudentSettings(
        model="m", learning_rate=1e-3, epochs_per_batch=3, replay=0, max_length=64, final_epochs=2
    )
    config = student_config(SPANS, settings, seed=7)
    assert (config.task, config.span_types, config.seed, config.model) == (
        "spans",
        ["cause", "effect"],
        7,
        "m",
    )
    assert all(getattr(config, name) == getattr(settings, name) for name in TRAINER_FIELDS)
    assert student_config(BINARY, settings, seed=7).num_labels == 2


def test_run_and_trainer_defaults_agree_on_the_settings_they_share():
    from dualchecker.training.config import StudentConfig

    for name in TRAINER_FIELDS:
        run, trainer = StudentSettings.model_fields[name], StudentConfig.model_fields[name]
        assert (run.default, run.metadata) == (trainer.default, trainer.metadata), name
