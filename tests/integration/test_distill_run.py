"""A whole DualChecker run with a real (tiny) student trained in a Ray actor, then final students
scored on held-out texts that none of the run's records share."""

from __future__ import annotations

import json

from sklearn.metrics import f1_score

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run, format_summary
from dualchecker.training.testing import save_tiny_student
from tests.fakes import BINARY, keyword_label, records, scripted_teacher

GREEN = ["carbon", "solar", "wind", "renewable"]
OTHER = ["revenue", "dividend", "sales", "headcount"]
# the word decides the label; where it stands and what surrounds it differ between the sets
TRAIN_FRAMES = [
    "We report on {} at the plant.",
    "The {} figures rose again.",
    "Our {} plan is new.",
]
# 24 pool examples: enough for the calibration to be fitted (below 20 it only adds the teacher
# and the pool model at equal weight)
POOL_FRAMES = ["Staff asked about {} last week.", "The {} target is ours.", "Ask us about {}."]
HELD_OUT_FRAMES = ["A note about {} from the board.", "Questions on {} were asked today."]


def texts(frames: list[str], prefix: str) -> list[tuple[str, str, str]]:
    words = [(w, "yes") for w in GREEN] + [(w, "no") for w in OTHER]
    rows = [(frame.format(w), label) for frame in frames for w, label in words]
    return [(f"{prefix}{i}", text, label) for i, (text, label) in enumerate(rows)]


def test_full_run_trains_the_student_in_ray_and_scores_final_students(tmp_path, ray_session):
    rows = records(texts(TRAIN_FRAMES, "p"))
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(
        "".join(
            json.dumps({"id": i, "text": t, "label": label}) + "\n"
            for i, t, label in texts(HELD_OUT_FRAMES, "h")
        )
    )
    pool = records(texts(POOL_FRAMES, "q"))  # human-labelled examples, none of them an input
    tiny = save_tiny_student(tmp_path / "tiny")
    teacher = scripted_teacher(
        lambda text, re: {
            "label": keyword_label(text, {"yes": GREEN}, "no"),
            "confidence": 90,
            "rationale": "r",
        }
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        method=method("dualchecker", n_shot=2),
        student=StudentSettings(
            model=tiny,
            use_ray=True,
            learning_rate=1e-2,
            epochs_per_batch=2,
            final_epochs=16,
            eval=DataSource(path=held_out),
            timeout_s=300,
        ),
        run=RunSettings(dir=tmp_path / "run", batch_size=8),
    )
    summary = Run(config, llm=teacher, embedder=HashingEmbedder(), inputs=rows, pool=pool).execute(
        progress=False
    )
    assert summary.labelled == 24
    student = summary.student
    assert student["n_test"] == 16 and student["left_out"] == 0
    # always saying "yes" scores 2/3 on this balanced held-out set; a student that learnt the
    # teacher's rule from its labels, not the texts, must beat that by a clear margin
    # the product learns from the 24 human pool labels and the teacher's 24; the baselines beside
    # it from the pool alone, the pool and the pool model's labels, the pool and every gold label
    sizes = {"teacher_labels": 48, "pool_only": 24, "self_training": 48, "gold_labels": 48}
    for name, n_train in sizes.items():
        kept = [
            json.loads(line)
            for line in (tmp_path / "run" / "student_test" / f"{name}.jsonl").open()
        ]
        assert [k["id"] for k in kept] == [f"h{i}" for i in range(16)]
        f1 = f1_score([k["gold_label"] == "yes" for k in kept], [k["label"] == "yes" for k in kept])
        assert student[name]["f1"] == f1 and student[name]["n_train"] == n_train
        if name in ("teacher_labels", "gold_labels"):
            assert f1 >= 2 / 3 + 0.2, (name, f1)
    assert {d.baseline for d in summary.comparison.against} == {"pool_only", "self_training"}
    trained = [
        json.loads(line)
        for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()
        if '"batch_trained"' in line
    ]
    assert len(trained) == 3 and all(e["data"]["left_out"] == 0 for e in trained)
    # the first batch's 8 teacher labels train beside the 24 pool examples, replayed from the start
    assert [e["data"]["examples"] for e in trained][0] == 8 + 24
    assert "student F1 on 16 held-out" in format_summary(summary)
