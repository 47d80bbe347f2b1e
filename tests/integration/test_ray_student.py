"""The student behind Ray on a machine without a GPU: nothing waits forever, results come back."""

from __future__ import annotations

import os

import pytest
import ray

from dualchecker.training import CharSpan, StudentConfig, StudentExample, StudentTimeoutError
from dualchecker.training.actor import (
    FinetuneJob,
    RemoteStudent,
    ensure_ray,
    run_finetunes_parallel,
    student_actor_options,
)
from dualchecker.training.testing import save_tiny_student

TIMEOUT_S = 120


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return save_tiny_student(tmp_path_factory.mktemp("tiny"))


def claims(n: int) -> list[StudentExample]:
    return [
        StudentExample(
            id=str(i), text=f"report {i} on {'solar' if i % 2 else 'profit'}", label=i % 2
        )
        for i in range(n)
    ]


def test_gpu_is_requested_only_when_the_cluster_has_one(ray_session):
    has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
    assert student_actor_options() == (
        {"num_cpus": 1, "num_gpus": 1.0} if has_gpu else {"num_cpus": 1}
    )
    assert student_actor_options(use_gpu=False) == {"num_cpus": 1}
    ensure_ray()  # idempotent


def test_two_finetunes_run_in_parallel(ray_session, tiny):
    spans = [
        StudentExample(
            id="s",
            text="rain caused floods",
            spans=[
                CharSpan(start=0, end=4, type="cause"),
                CharSpan(start=12, end=18, type="effect"),
            ],
        )
    ]
    jobs = [
        FinetuneJob(
            name="cls-seed0",
            config=StudentConfig(model=tiny, task="classification", num_labels=2),
            train=claims(8),
            test=claims(4),
            epochs=1,
        ),
        FinetuneJob(
            name="spans",
            config=StudentConfig(model=tiny, task="spans", span_types=["cause", "effect"]),
            train=spans * 4,
            test=spans,
            epochs=1,
        ),
    ]
    reports = run_finetunes_parallel(jobs, timeout_s=TIMEOUT_S)
    assert [r.n_test for r in reports] == [4, 1]
    assert "token_f1" in reports[1].scores and "accuracy" in reports[0].scores


def test_remote_student_trains_predicts_and_saves(ray_session, tiny, tmp_path):
    config = StudentConfig(
        model=tiny, task="classification", num_labels=2, epochs_per_batch=1, replay=4
    )
    with RemoteStudent(config, timeout_s=TIMEOUT_S) as student:
        student.fit_batch(claims(4))
        report = student.fit_batch(claims(4))
        assert report.replayed == 4
        predictions = student.predict(["report on solar"])
        assert predictions[0].label in (0, 1)
        assert os.path.exists(
            os.path.join(student.save(str(tmp_path / "s")), "student_config.json")
        )


def test_unfinished_finetunes_time_out_instead_of_hanging(ray_session, tiny):
    job = FinetuneJob(
        name="slow",
        config=StudentConfig(model=tiny, task="classification", num_labels=2),
        train=claims(8),
        test=claims(2),
        epochs=100_000,  # far beyond 0.5 s on any machine: a warm tiny model ran 50 in time
    )
    with pytest.raises(StudentTimeoutError, match="1 of 1"):
        run_finetunes_parallel([job], timeout_s=0.5)
