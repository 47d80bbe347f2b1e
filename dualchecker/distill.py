"""Wiring the student side into a run: the online student, and the final students at the end."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from dualchecker.agents.student import gold_examples, scored_predictions, teacher_examples
from dualchecker.agents.types import LabelledRecord, Record, Task
from dualchecker.data import atomic_write_text
from dualchecker.graph.config import StudentSettings
from dualchecker.training.config import StudentConfig
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


def final_students(
    task: Task,
    settings: StudentSettings,
    seed: int,
    labelled: list[LabelledRecord],
    pool: list[Record],
    held_out: list[Record],
    synthetic: list[LabelledRecord] = (),
    save_dir: Path | None = None,
    predictions_dir: Path | None = None,
) -> dict[str, Any]:
    """Fresh students on (a) all teacher labels and (b) the pool's gold labels, scored on held-out.

    Both run in parallel Ray tasks when Ray is on; the gold one is the paper's "human labels"
    reference. The teacher-label student never sees a gold label; it is the run's product, saved
    under `save_dir` as a Hugging Face model. Without held-out data only it is trained (and
    saved), with nothing to score it on. With `predictions_dir`, each student's answers on the
    held-out records are kept there (``teacher_labels.jsonl``, ``gold_labels.jsonl``), so that
    its F1 can carry an interval and be paired with another student's.
    """
    from dualchecker.training.evaluate import train_and_evaluate

    config = student_config(task, settings, seed)
    test = gold_examples(task, held_out)
    train, left_out = teacher_examples(
        task, [*labelled, *synthetic], min_confidence=settings.min_confidence
    )
    positive = task.label_names.index(task.positive) if task.positive else 1
    jobs = {"teacher_labels": train}
    if settings.gold_reference and test:
        jobs["gold_labels"] = gold_examples(task, pool)
    empty = [name for name, data in jobs.items() if not data]  # e.g. the teacher labelled nothing
    jobs = {name: data for name, data in jobs.items() if data}
    saved = {"teacher_labels": str(save_dir)} if save_dir is not None else {}
    names = None if task.is_spans else task.label_names
    if settings.use_ray:
        from dualchecker.training.actor import FinetuneJob, ensure_ray, run_finetunes_parallel

        ensure_ray(settings.ray_address)
        reports = run_finetunes_parallel(
            [
                FinetuneJob(
                    name=name,
                    config=config,
                    train=data,
                    test=test,
                    positive=positive,
                    save_to=saved.get(name),
                    label_names=names,
                )
                for name, data in jobs.items()
            ],
            timeout_s=settings.timeout_s,
        )
    else:
        reports = [
            train_and_evaluate(
                config, data, test, positive=positive, save_to=saved.get(name), label_names=names
            )
            for name, data in jobs.items()
        ]
    out: dict[str, Any] = {"left_out": left_out, "n_test": len(test), "synthetic": len(synthetic)}
    if "teacher_labels" in jobs and save_dir is not None:
        out["saved_to"] = str(save_dir)
    out.update({name: {"f1": None, "n_train": 0} for name in empty})
    for name, report in zip(jobs, reports):
        out[name] = {
            "f1": report.f1,
            "n_train": report.n_train,
            "train_samples_per_s": report.train_samples_per_s,
            **{k: v for k, v in report.scores.items() if k in ("precision", "recall", "token_f1")},
        }
        if predictions_dir is not None and report.predictions:
            write_predictions(predictions_dir / f"{name}.jsonl", task, held_out, report.predictions)
            out[name]["predictions"] = str(predictions_dir / f"{name}.jsonl")
    return out


def write_predictions(
    path: Path, task: Task, held_out: list[Record], predictions: list[StudentPrediction]
) -> None:
    """A final student's held-out answers beside their gold, one record a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scored = scored_predictions(task, held_out, predictions)
    atomic_write_text(path, "".join(r.model_dump_json() + "\n" for r in scored))
