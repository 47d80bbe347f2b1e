"""The student learns from the human pool and the teacher; the run says what the teacher added."""

from __future__ import annotations

import pytest
import torch

from dualchecker.agents.aligner import ExampleIndex
from dualchecker.agents.embedders import HashingEmbedder, RememberingEmbedder
from dualchecker.agents.pool_model import PoolClassifier
from dualchecker.agents.types import LabelledRecord, Record
from dualchecker.comparison import compare_students, plain_sentence
from dualchecker.contribution import contribution
from dualchecker.data import DataSource
from dualchecker.distill import FinalData, training_sets
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run, format_summary
from dualchecker.training.loss import weighted_loss
from tests.fakes import BINARY, scripted_teacher

GREEN = ["solar", "wind", "recycled", "emissions", "renewable", "electric", "carbon", "green"]
DULL = ["revenue", "board", "quarter", "meeting", "shares", "office", "sales", "audit"]


def corpus(prefix: str, n: int, *, gold: bool = True) -> list[Record]:
    """Texts whose label is set by a topic word, with filler words around it."""
    out = []
    for i in range(n):
        yes = i % 2 == 0
        word = (GREEN if yes else DULL)[i % 8]
        text = f"{prefix} {i}: the company said its {word} plan moved ahead in year {i % 5}"
        out.append(
            Record(id=f"{prefix}{i}", text=text, label=("yes" if yes else "no") if gold else None)
        )
    return out


def answered(record: Record, label: str, confidence: float) -> LabelledRecord:
    return LabelledRecord.answering(record, label=label, confidence=confidence)


def test_the_final_students_training_sets_hold_the_pool_at_weight_one_and_weighted_teacher_labels():
    pool, inputs = corpus("p", 6), corpus("u", 4, gold=False)
    labelled = [answered(r, "yes", c) for r, c in zip(inputs, [0.9, 0.6, 0.75, 0.55])]
    pool_said = [answered(r, "no", 0.8) for r in inputs]
    data = FinalData(labelled=labelled, pool=pool, pool_answers=pool_said)
    jobs, left_out = training_sets(BINARY, StudentSettings(), data)
    product = jobs["teacher_labels"]
    assert [(e.id, e.weight) for e in product[:6]] == [(r.id, 1.0) for r in pool]
    assert [(e.id, e.weight) for e in product[6:]] == [
        ("u0", 0.9),
        ("u1", 0.6),
        ("u2", 0.75),
        ("u3", 0.55),
    ]
    assert [e.id for e in jobs["pool_only"]] == [r.id for r in pool]
    assert [e.label for e in jobs["self_training"][6:]] == [0, 0, 0, 0]  # the pool model's word
    assert left_out == 0 and "gold_labels" not in jobs  # the inputs have no human labels

    filtered, left_out = training_sets(
        BINARY,
        StudentSettings(teacher_weight="uniform", min_confidence=0.7, human_pool=False),
        data,
    )
    assert [(e.id, e.weight) for e in filtered["teacher_labels"]] == [("u0", 1.0), ("u2", 1.0)]
    assert left_out == 2


def test_weighted_loss_ignores_a_zero_weight_example_and_matches_plain_cross_entropy():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 3.0]])
    labels = torch.tensor([0, 1, 0])
    ones = weighted_loss(logits, labels, torch.ones(3))
    assert ones.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item())
    two = weighted_loss(logits[:2], labels[:2], torch.ones(2))
    assert weighted_loss(logits, labels, torch.tensor([1.0, 1.0, 0.0])).item() == pytest.approx(
        two.item()
    )
    tags = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 2.0], [1.0, 1.0]]])
    tag_labels = torch.tensor([[0, -100], [1, 0]])  # one token of the first text is ignored
    per_text = [
        torch.nn.functional.cross_entropy(tags[0, :1], tag_labels[0, :1]),
        torch.nn.functional.cross_entropy(tags[1], tag_labels[1]),
    ]
    expected = (0.25 * per_text[0] + 0.75 * per_text[1]) / 1.0
    got = weighted_loss(tags, tag_labels, torch.tensor([0.25, 0.75]))
    assert got.item() == pytest.approx(expected.item())


def test_the_pool_classifier_learns_the_pool_and_tunes_its_threshold_on_it():
    pool = corpus("p", 40)
    classifier = PoolClassifier(BINARY, ExampleIndex(pool, HashingEmbedder()))
    assert 0.0 < classifier.threshold < 1.0
    fresh = corpus("q", 16, gold=True)
    said = classifier.answer([r.model_copy(update={"label": None}) for r in fresh])
    right = sum(a.label == r.label for a, r in zip(said, fresh))
    assert right >= 12  # topic words carry the label; chance is 8
    with pytest.raises(ValueError, match="two classes"):
        PoolClassifier(
            BINARY, ExampleIndex([r for r in pool if r.label == "yes"], HashingEmbedder())
        )


def test_the_contribution_counts_changed_labels_and_scores_both_against_gold():
    records = corpus("u", 4)
    final = [answered(r, lab, 0.9) for r, lab in zip(records, ["yes", "no", "no", "no"])]
    pool = [answered(r, lab, 0.7) for r, lab in zip(records, ["yes", "yes", "yes", "no"])]
    c = contribution(BINARY, final, pool, neighbour_weight=0.25)
    assert (c.compared, c.changed, c.teacher_weight) == (4, 2, 0.75)
    assert c.changed_share == 0.5
    assert c.final_f1 == pytest.approx(2 / 3)  # gold yes/no/yes/no: tp 1, fn 1
    assert c.pool_model_f1 == pytest.approx(0.8)  # tp 2, fp 1


def test_the_comparison_pairs_students_on_the_same_records_and_says_so_plainly():
    held = corpus("e", 40)
    truth = [r.label for r in held]
    product = [answered(r, r.label, 0.9) for r in held]
    pool_only = [
        answered(r, "no" if i % 3 == 0 else lab, 0.9) for i, (r, lab) in enumerate(zip(held, truth))
    ]
    comparison = compare_students(BINARY, {"teacher_labels": product, "pool_only": pool_only})
    pair = comparison.get("pool_only")
    assert comparison.n == 40 and pair.f1 == 1.0 and pair.difference > 0
    assert pair.low > 0 and pair.verdict == "helped"
    text = plain_sentence(comparison, n_human=32)
    assert "your 32 human labels alone" in text and "the LLM helped" in text
    same = compare_students(BINARY, {"teacher_labels": product, "pool_only": product})
    assert "no clear gain" in plain_sentence(same, n_human=32)


def test_a_run_reports_the_pool_only_and_self_training_students_on_the_same_records(tmp_path):
    from dualchecker.training.testing import save_tiny_student

    tiny = save_tiny_student(tmp_path / "tiny")
    pool, inputs, held = corpus("p", 24), corpus("u", 12, gold=False), corpus("e", 10)
    (tmp_path / "eval.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in held))
    teacher = scripted_teacher(
        lambda text, re: {
            "label": "yes" if any(w in text for w in GREEN) else "no",
            "confidence": 90,
        }
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("zero-shot"),
        student=StudentSettings(
            use_ray=False, model=tiny, final_epochs=1, eval=DataSource(path=tmp_path / "eval.jsonl")
        ),
        run=RunSettings(dir=tmp_path / "run", batch_size=6),
    )
    summary = Run(
        config,
        llm=teacher,
        embedder=RememberingEmbedder(HashingEmbedder()),
        inputs=inputs,
        pool=pool,
    ).execute(progress=False)
    st = summary.student
    assert st["teacher_labels"]["n_train"] == 24 + 12 and st["pool_only"]["n_train"] == 24
    assert st["self_training"]["n_train"] == 24 + 12 and st["n_test"] == 10
    assert {d.baseline for d in summary.comparison.against} == {"pool_only", "self_training"}
    assert summary.comparison.n == 10
    assert summary.contribution.compared == 12
    text = format_summary(summary)
    assert "human labels alone" in text and "labels changed from the pool model's own" in text


def test_without_held_out_data_the_pool_answers_the_question_out_of_fold(tmp_path):
    from dualchecker.pool_cv import folds_of
    from dualchecker.training.testing import save_tiny_student

    tiny = save_tiny_student(tmp_path / "tiny")
    pool, inputs = corpus("p", 18), corpus("u", 6, gold=False)
    folds = folds_of(BINARY, pool, 3, seed=0)
    assert sorted(r.id for fold in folds for r in fold) == sorted(r.id for r in pool)
    assert all({r.label for r in fold} == {"yes", "no"} for fold in folds)
    teacher = scripted_teacher(lambda text, re: {"label": "no", "confidence": 90})
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("dualchecker-verbalised", n_shot=0, teacher_checker=False),
        student=StudentSettings(use_ray=False, model=tiny, final_epochs=1),
        run=RunSettings(dir=tmp_path / "run", batch_size=6),
    )
    summary = Run(
        config, llm=teacher, embedder=HashingEmbedder(), inputs=inputs, pool=pool
    ).execute(progress=False)
    assert summary.comparison.n == 18 and summary.comparison.on == "the 18 pool examples, 3-fold"
    assert [d.baseline for d in summary.comparison.against] == ["pool_only"]
    assert "on 18 the 18 pool examples" not in format_summary(summary)


def test_the_online_student_replays_the_human_pool_beside_the_teachers_labels():
    from dualchecker.agents.student import StudentAgent
    from tests.fakes import SpyTrainer

    pool, inputs = corpus("p", 4), corpus("u", 3, gold=False)
    spy = SpyTrainer()
    agent = StudentAgent(BINARY, spy, weighting="confidence", human_pool=pool)
    assert [(e.id, e.label, e.weight) for e in spy.remembered] == [
        ("p0", 1, 1.0),
        ("p1", 0, 1.0),
        ("p2", 1, 1.0),
        ("p3", 0, 1.0),
    ]
    agent.train([answered(r, "yes", 0.6) for r in inputs])
    assert [(e.id, e.weight) for e in spy.seen] == [("u0", 0.6), ("u1", 0.6), ("u2", 0.6)]
    assert not StudentAgent(BINARY, SpyTrainer()).trainer.remembered  # no pool, nothing replayed
