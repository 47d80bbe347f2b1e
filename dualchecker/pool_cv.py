"""Did the teacher help, when the run has no held-out data? Ask the human pool, fold by fold.

The pool is cut into stratified folds; for each fold, the run's student (the other folds and the
teacher's labels) and the pool-only student (the other folds alone) answer the fold's examples.
Pooled over folds, every pool example is answered by students that never trained on it, and the
two are paired as they would be on held-out records. Self-training is left out here: its labels
would need a pool model per fold.
"""

from __future__ import annotations

from sklearn.model_selection import StratifiedKFold

from dualchecker.agents.student import gold_examples, scored_predictions
from dualchecker.agents.types import LabelledRecord, Record, Task
from dualchecker.comparison import StudentComparison, compare_students
from dualchecker.graph.config import StudentSettings


def folds_of(task: Task, pool: list[Record], folds: int, seed: int) -> list[list[Record]]:
    """Stratified folds of the pool's labelled examples (spans: by whether any span exists)."""
    rows = [r for r in pool if r.has_gold]
    strata = [bool(r.spans) if task.is_spans else r.label for r in rows]
    cut = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [[rows[i] for i in test] for _, test in cut.split(rows, strata)]


def cross_validated_comparison(
    task: Task, settings: StudentSettings, seed: int, data, folds: int
) -> StudentComparison | None:
    """The product against the pool-only student on the pool itself, out of fold (None when
    the pool is too small to cut into `folds`)."""
    from dualchecker.distill import student_config, train_students, training_sets

    labelled = [r for r in data.pool if r.has_gold]
    counts = [
        sum(1 for r in labelled if (bool(r.spans) if task.is_spans else r.label) == v)
        for v in {bool(r.spans) if task.is_spans else r.label for r in labelled}
    ]
    if not labelled or min(counts) < folds:
        return None
    quiet = settings.model_copy(update={"self_training": False, "gold_reference": False})
    config = student_config(task, quiet, seed)
    answers: dict[str, list[LabelledRecord]] = {"teacher_labels": [], "pool_only": []}
    for fold in folds_of(task, labelled, folds, seed):
        held = {r.id for r in fold}
        rest = data.model_copy(
            update={"pool": [r for r in labelled if r.id not in held], "pool_answers": []}
        )
        jobs, _ = training_sets(task, quiet, rest)
        jobs = {name: rows for name, rows in jobs.items() if name in answers and rows}
        reports = train_students(task, config, quiet, jobs, gold_examples(task, fold), {})
        for name, report in zip(jobs, reports):
            answers[name] += scored_predictions(task, fold, report.predictions)
    comparison = compare_students(task, answers, seed=seed)
    if comparison is None:
        return None
    return comparison.model_copy(update={"on": f"the {len(labelled)} pool examples, {folds}-fold"})
