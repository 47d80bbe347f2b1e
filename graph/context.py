"""Everything the nodes need that is not state: the records, the agents, the sinks.

Built once per run from a RunConfig (or from objects a Python caller passes in).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from dualchecker.agents.aligner import ContextAligner
from dualchecker.agents.checkers import StudentChecker, TeacherChecker, UncertaintyChecker
from dualchecker.agents.evokd import SampleWriter
from dualchecker.agents.span_probe import SpanProbe
from dualchecker.agents.student import StudentAgent
from dualchecker.agents.teacher import Teacher
from dualchecker.agents.template import TemplateRefiner
from dualchecker.agents.types import Record, Task
from dualchecker.graph.config import MethodConfig, RunSettings
from dualchecker.graph.events import EventLog
from dualchecker.graph.store import ResultStore


def static_examples(pool: list[Record], n: int, seed: int) -> list[Record]:
    """A fixed, label-balanced set of gold examples (the few-shot/CoT/DToT baselines' demos)."""
    rng = random.Random(seed)
    by_answer: dict[Any, list[Record]] = {}
    for record in pool:
        if record.has_gold:
            by_answer.setdefault(record.label if record.spans is None else "spans", []).append(
                record
            )
    for group in by_answer.values():
        rng.shuffle(group)
    chosen: list[Record] = []
    groups = [by_answer[k] for k in sorted(by_answer, key=str)]
    while len(chosen) < n and any(groups):
        for group in groups:
            if group and len(chosen) < n:
                chosen.append(group.pop())
    return chosen


@dataclass
class RunContext:
    """One run's records (in labelling order), agents, checkers and sinks, shared by every node."""

    task: Task
    method: MethodConfig
    settings: RunSettings
    records: dict[str, Record]
    order: list[str]
    teacher: Teacher
    checker: TeacherChecker
    aligner: ContextAligner
    static: list[Record]
    events: EventLog
    pool: list[Record]
    store: ResultStore
    # Span tasks: the pool's tagger, whose spans the calibration weighs against the teacher's.
    span_probe: SpanProbe | None = None
    # The student side (None for methods without the online student).
    student: StudentAgent | None = None
    student_checker: StudentChecker | UncertaintyChecker | None = None
    refiner: TemplateRefiner | None = None
    sample_writer: SampleWriter | None = None

    @property
    def n_batches(self) -> int:
        """How many batches the records make (the last one may be short)."""
        size = self.settings.batch_size
        return (len(self.order) + size - 1) // size

    def batch_ids(self, index: int) -> list[str]:
        """The record ids of batch `index`, in labelling order."""
        size = self.settings.batch_size
        return self.order[index * size : (index + 1) * size]
