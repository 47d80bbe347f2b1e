"""Graph state: the outer loop over batches, and the per-record teacher subgraph.

Only what changes during a run lives here; the records themselves and the agents live in the
RunContext. `batch_results` is cleared at the start of every batch, so checkpoints stay small.
"""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from dualchecker.agents.calibration import Calibration
from dualchecker.agents.checkers import Borderline, StudentAnswer
from dualchecker.agents.span_calibration import SpanCalibration
from dualchecker.agents.types import Attempt, Demonstration, LabelledRecord, Record, Span


class RecordState(TypedDict, total=False):
    """One record's trip through aligner → teacher → teacher checker (→ re-prompt …)."""

    record: Record
    template: list[Demonstration]
    calibration: Calibration | SpanCalibration | None
    vote: dict[str, float] | None
    span_vote: list[Span] | None
    demonstrations: list[Demonstration]
    neighbours: list[str]
    attempts: Annotated[list[Attempt], operator.add]
    batch_results: Annotated[list[LabelledRecord], operator.add]


class RecordOutput(TypedDict):
    """What the record subgraph hands back to the batch loop."""

    batch_results: Annotated[list[LabelledRecord], operator.add]


class RunState(TypedDict, total=False):
    """The batch loop: which batch, what the teacher's template holds, this batch's results."""

    batch_index: int
    batch_ids: list[str]
    calibration: Calibration | SpanCalibration | None
    template: Annotated[list[Demonstration], operator.add]
    batch_results: Annotated[list[LabelledRecord], operator.add]
    student_answers: list[StudentAnswer]
    borderline: list[Borderline]
