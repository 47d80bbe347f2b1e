"""Everything the nodes need that is not state: the records, the agents, the sinks.

Built once per run from a RunConfig (or from objects a Python caller passes in).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from dualchecker.agents.aligner import ContextAligner
from dualchecker.agents.checkers import StudentChecker, TeacherChecker, UncertaintyChecker
from dualchecker.agents.demonstrations import DemonstrationPicker
from dualchecker.agents.evokd import SampleWriter
from dualchecker.agents.span_probe import SpanProbe
from dualchecker.agents.student import StudentAgent
from dualchecker.agents.teacher import Teacher
from dualchecker.agents.template import TemplateRefiner
from dualchecker.agents.types import Record, Task
from dualchecker.graph.config import MethodConfig, RunSettings
from dualchecker.graph.events import EventLog
from dualchecker.graph.store import ResultStore

Advance = Callable[[int], None]
"""Told how many steps of a long step are done so far."""
ProgressHook = Callable[[str, int], AbstractContextManager[Advance]]
"""Opens a progress display for a long step, given what it is and how many steps it has; the
runner's shows a bar with an ETA (nodes never print)."""


def no_progress(what: str, total: int) -> AbstractContextManager[Advance]:
    """The progress hook of a run that shows none."""
    return nullcontext(lambda done: None)


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
    demonstrations: DemonstrationPicker
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
    # Progress of the long steps before labelling (the calibration's pool answers).
    progress: ProgressHook = no_progress

    @property
    def n_batches(self) -> int:
        """How many batches the records make (the last one may be short)."""
        size = self.settings.batch_size
        return (len(self.order) + size - 1) // size

    def batch_ids(self, index: int) -> list[str]:
        """The record ids of batch `index`, in labelling order."""
        size = self.settings.batch_size
        return self.order[index * size : (index + 1) * size]
