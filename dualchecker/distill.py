"""Wiring the student side into a run: the online student, and the final students at the end
(the run's product beside the pool-only and self-training students it must beat)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dualchecker.agents.student import gold_examples, scored_predictions, teacher_examples
from dualchecker.agents.types import LabelledRecord, Record, Task
from dualchecker.comparison import compare_students
from dualchecker.data import atomic_write_text
from dualchecker.graph.config import StudentSettings
from dualchecker.training.config import StudentConfig
from dualchecker.training.data import StudentExample
from dualchecker.training.evaluate import EvalReport
from dualchecker.training.prediction import StudentPrediction

log = logging.getLogger(__name__)
# The run's student settings that the trainer takes as they are, under the same names.
TRAINER_FIELDS = ("learning_rate", "epochs_per_batch", "replay", "max_length", "final_epochs")


def student_config(task: Task, settings: StudentSettings, seed: int) -> StudentConfig:
    """The trainer's configuration from the run's student settings and the task's labels or span types."""
    extra: dict[str, Any] = {"model": settings.model} if settings.model else {}
    if task.is_spans:
        extra["span_types"] = task.span_type_names
    else:
        extra["num_labels"] = len(task.labels)
    return StudentConfig(
        task="spans" if task.is_spans else "classification",
        seed=seed,
        **settings.model_dump(include=set(TRAINER_FIELDS)),
        **extra,
    )


def make_trainer(config: StudentConfig, settings: StudentSettings):
    """A Ray actor (one code path for CPU and GPU) or, with use_ray off, an in-process trainer."""
    if settings.use_ray:
        from dualchecker.training.actor import RemoteStudent, ensure_ray

        ensure_ray(settings.ray_address)
        return RemoteStudent(config, timeout_s=settings.timeout_s)
    from dualchecker.training.trainer import StudentTrainer

    return StudentTrainer(config)


class FinalData(BaseModel):
    """What the final students learn from, each set under its own name (see `final_students`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    labelled: list[LabelledRecord]
    """The teacher's final answers."""
    pool: list[Record]
    """The human-labelled pool."""
    reference: list[Record] = Field(default_factory=list)
    """Human labels for the gold reference student (the labelled records' own, when known)."""
    pool_answers: list[LabelledRecord] = Field(default_factory=list)
    """The pool model's answers to the same records: the self-training baseline's labels."""
    synthetic: list[LabelledRecord] = Field(default_factory=list)
    """EvoKD's written samples."""


def training_sets(
    task: Task, settings: StudentSettings, data: FinalData
) -> tuple[dict[str, list[StudentExample]], int]:
    """The final students' training sets and how many teacher answers were left out.

    `teacher_labels` is the run's product: the human pool at weight 1 (unless `human_pool` is
    off) and the teacher's labels, weighted or filtered as configured. `pool_only` is the same
    student on the pool alone and `self_training` the pool plus the pool model's own labels of
    the same records, weighted alike: the two baselines the teacher's labels must beat.
    """
    human = gold_examples(task, data.pool) if settings.human_pool else []
    teacher, left_out = teacher_examples(
        task,
        [*data.labelled, *data.synthetic],
        min_confidence=settings.min_confidence,
        weighting=settings.teacher_weight,
    )
    jobs = {"teacher_labels": human + teacher}
    if settings.pool_only:
        jobs["pool_only"] = gold_examples(task, data.pool)
    if settings.self_training and data.pool_answers:
        pseudo, _ = teacher_examples(
            task,
            data.pool_answers,
            min_confidence=settings.min_confidence,
            weighting=settings.teacher_weight,
        )
        jobs["self_training"] = gold_examples(task, data.pool) + pseudo
    if settings.gold_reference and data.reference:
        jobs["gold_labels"] = gold_examples(task, data.reference)
    return jobs, left_out


def final_students(
    task: Task,
    settings: StudentSettings,
    seed: int,
    data: FinalData,
    held_out: list[Record],
    save_dir: Path | None = None,
    predictions_dir: Path | None = None,
) -> dict[str, Any]:
    """Fresh students on each training set of `training_sets`, scored on held-out records.

    They run in parallel Ray tasks when Ray is on. Only `teacher_labels`, the run's product, is
    saved (under `save_dir`, as a Hugging Face model); without held-out data it is the only one
    trained, with nothing to score it on. With `predictions_dir`, each student's answers on the
    held-out records are kept there (``<name>.jsonl``), so that its F1 carries an interval and
    is paired with the pool-only student's (`comparison`).
    """
    config = student_config(task, settings, seed)
    test = gold_examples(task, held_out)
    jobs, left_out = training_sets(task, settings, data)
    if not test:
        jobs = {"teacher_labels": jobs["teacher_labels"]}
    empty = [name for name, rows in jobs.items() if not rows]  # e.g. nothing labelled at all
    jobs = {name: rows for name, rows in jobs.items() if rows}
    saved = {"teacher_labels": str(save_dir)} if save_dir is not None else {}
    reports = train_students(task, config, settings, jobs, test, saved)
    out: dict[str, Any] = {
        "left_out": left_out,
        "n_test": len(test),
        "synthetic": len(data.synthetic),
        "n_human": len(gold_examples(task, data.pool)) if settings.human_pool else 0,
        "weighting": settings.teacher_weight,
    }
    if "teacher_labels" in jobs and save_dir is not None:
        out["saved_to"] = str(save_dir)
    out.update({name: {"f1": None, "n_train": 0} for name in empty})
    answers: dict[str, list[LabelledRecord]] = {}
    for name, report in zip(jobs, reports):
        out[name] = {
            "f1": report.f1,
            "n_train": report.n_train,
            "train_samples_per_s": report.train_samples_per_s,
            **{k: v for k, v in report.scores.items() if k in ("precision", "recall", "token_f1")},
        }
        if report.predictions:
            answers[name] = scored_predictions(task, held_out, report.predictions)
            if predictions_dir is not None:
                write_answers(predictions_dir / f"{name}.jsonl", answers[name])
                out[name]["predictions"] = str(predictions_dir / f"{name}.jsonl")
    comparison = compare_students(task, answers, seed=seed)
    if comparison is None and not test and settings.pool_only and settings.pool_folds >= 2:
        from dualchecker.pool_cv import cross_validated_comparison

        comparison = cross_validated_comparison(task, settings, seed, data, settings.pool_folds)
    if comparison is not None:
        out["comparison"] = comparison.model_dump()
    return out


def train_students(
    task: Task,
    config: StudentConfig,
    settings: StudentSettings,
    jobs: dict[str, list[StudentExample]],
    test: list[StudentExample],
    saved: dict[str, str],
) -> list[EvalReport]:
    """Fine-tune and score every job: side by side in Ray tasks, or one after the other."""
    from dualchecker.training.evaluate import train_and_evaluate

    positive = task.label_names.index(task.positive) if task.positive else 1
    names = None if task.is_spans else task.label_names
    if not settings.use_ray:
        return [
            train_and_evaluate(
                config, rows, test, positive=positive, save_to=saved.get(name), label_names=names
            )
            for name, rows in jobs.items()
        ]
    from dualchecker.training.actor import FinetuneJob, ensure_ray, run_finetunes_parallel

    ensure_ray(settings.ray_address)
    return run_finetunes_parallel(
        [
            FinetuneJob(
                name=name,
                config=config,
                train=rows,
                test=test,
                positive=positive,
                save_to=saved.get(name),
                label_names=names,
            )
            for name, rows in jobs.items()
        ],
        timeout_s=settings.timeout_s,
    )


def write_answers(path: Path, answers: list[LabelledRecord]) -> None:
    """A final student's held-out answers beside their gold, one record a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(r.model_dump_json() + "\n" for r in answers))


def write_predictions(
    path: Path, task: Task, held_out: list[Record], predictions: list[StudentPrediction]
) -> None:
    """A final student's held-out predictions, scored against the held-out gold and written."""
    write_answers(path, scored_predictions(task, held_out, predictions))
