"""A whole DualChecker run with a real (tiny) student trained in a Ray actor, then final students."""

from __future__ import annotations

import json

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run, format_summary
from dualchecker.training.testing import save_tiny_student
from tests.fakes import BINARY, keyword_label, records, scripted_teacher

GREEN = ["carbon", "solar", "wind", "recycl", "emission", "renewable"]
SENTENCES = [
    ("We cut carbon emissions by a third.", "yes"),
    ("Revenue rose in the quarter.", "no"),
    ("Our factories run on wind power.", "yes"),
    ("The CEO spoke at the meeting.", "no"),
    ("Packaging is now fully recyclable.", "yes"),
    ("Sales in Asia were flat.", "no"),
    ("Solar panels now power the warehouse.", "yes"),
    ("Margins improved on pricing.", "no"),
    ("We buy renewable electricity only.", "yes"),
    ("The dividend was raised.", "no"),
    ("Emission targets were met early.", "yes"),
    ("Headcount grew by ten percent.", "no"),
]


def test_full_run_trains_the_student_in_ray_and_scores_final_students(tmp_path, ray_session):
    rows = records([(f"p{i}", text, label) for i, (text, label) in enumerate(SENTENCES)])
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(
        "\n".join(
            json.dumps({"id": f"h{i}", "text": t, "label": label})
            for i, (t, label) in enumerate(SENTENCES[::-1])
        )
    )
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
            epochs_per_batch=2,
            final_epochs=2,
            eval=DataSource(path=held_out),
            timeout_s=300,
            # the same sentences, reversed: this test is about Ray, not about generalising
            allow_eval_overlap=True,
        ),
        run=RunSettings(dir=tmp_path / "run", batch_size=4),
    )
    summary = Run(config, llm=teacher, embedder=HashingEmbedder(), inputs=rows, pool=rows).execute(
        progress=False
    )
    assert summary.labelled == 12 and summary.teacher["f1"] == 1.0
    student = summary.student
    assert student["n_test"] == 12 and student["left_out"] == 0
    for name in ("teacher_labels", "gold_labels"):
        assert 0.0 <= student[name]["f1"] <= 1.0 and student[name]["n_train"] == 12
    trained = [
        json.loads(line)
        for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()
        if '"batch_trained"' in line
    ]
    assert len(trained) == 3 and all(e["data"]["left_out"] == 0 for e in trained)
    assert [e["data"]["examples"] for e in trained][0] == 4  # later batches add replayed examples
    assert "student F1 on 12 held-out" in format_summary(summary)
