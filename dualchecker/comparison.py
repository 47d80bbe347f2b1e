"""Did the teacher's labels help? The run's student against the students it must beat.

Every run with held-out data trains the same student, with the same settings, on the human pool
alone and on the pool plus the pool model's own labels (self-training). The difference in F1 is
paired record for record on the same held-out records, with a 95% bootstrap interval, and said in
one plain sentence: the user's first question is whether the LLM added anything over their labels.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from dualchecker.agents.types import LabelledRecord, Task
from dualchecker.evaluation import bootstrap_f1

PRODUCT = "teacher_labels"
BASELINES = ("pool_only", "self_training")


class PairedDifference(BaseModel):
    """F1 of the run's student minus a baseline student's, on the same held-out records."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    baseline: str
    baseline_f1: float
    f1: float
    difference: float
    low: float
    """95% paired bootstrap interval of the difference."""
    high: float

    @property
    def verdict(self) -> str:
        """'helped', 'hurt', or 'no clear difference' (the interval holds 0)."""
        if self.low > 0:
            return "helped"
        if self.high < 0:
            return "hurt"
        return "no clear difference"


class StudentComparison(BaseModel):
    """The run's student against each baseline student, on `n` held-out records."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)
    n: int
    against: list[PairedDifference]
    on: str = ""
    """What the students were scored on, when not the run's held-out records (e.g. the pool,
    out of fold)."""

    def get(self, baseline: str) -> PairedDifference | None:
        """The comparison with one baseline, when it was trained."""
        return next((d for d in self.against if d.baseline == baseline), None)


def compare_students(
    task: Task, answers: dict[str, list[LabelledRecord]], *, seed: int = 0
) -> StudentComparison | None:
    """Pair the product's held-out answers with each baseline's; None without the product or
    without any baseline."""
    mine = answers.get(PRODUCT)
    if not mine:
        return None
    against = []
    for name in BASELINES:
        theirs = answers.get(name)
        if not theirs:
            continue
        diff, low, high = bootstrap_f1(task, mine, against=theirs, seed=seed)
        f1, _, _ = bootstrap_f1(task, mine, reps=1)
        base, _, _ = bootstrap_f1(task, theirs, reps=1)
        against.append(
            PairedDifference(
                baseline=name, baseline_f1=base, f1=f1, difference=diff, low=low, high=high
            )
        )
    return StudentComparison(n=len(mine), against=against) if against else None


def plain_sentence(comparison: StudentComparison, n_human: int) -> str:
    """What the teacher's labels did to held-out F1, in words a user acts on."""
    pool = comparison.get("pool_only")
    if pool is None:
        return ""
    line = (
        f"the teacher's labels changed held-out F1 from {pool.baseline_f1:.3f} (your {n_human} "
        f"human labels alone) to {pool.f1:.3f}: {pool.difference:+.3f} "
        f"[{pool.low:+.3f}, {pool.high:+.3f}] on {comparison.on or f'{comparison.n} held-out records'}"
    )
    if pool.verdict == "helped":
        line += "; the LLM helped"
    elif pool.verdict == "hurt":
        line += "; the LLM made the student worse: train on your labels alone"
    else:
        line += "; no clear gain from the LLM over your labels alone"
    selftrain = comparison.get("self_training")
    if selftrain is not None:
        line += (
            f". Against self-training (the pool model's own labels, {selftrain.baseline_f1:.3f}):"
            f" {selftrain.difference:+.3f} [{selftrain.low:+.3f}, {selftrain.high:+.3f}]"
        )
    return line
