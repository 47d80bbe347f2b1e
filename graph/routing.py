"""Routers name edges. Each is a small function of state, testable from a table of cases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from langgraph.types import Send

from dualchecker.agents.checkers import TeacherChecker
from dualchecker.graph.context import RunContext
from dualchecker.graph.state import RecordState, RunState

TeacherEdge = Literal["low confidence", "accept"]
LoopEdge = Literal["next batch", "done"]


def _next_or_done(ctx: RunContext, state: RunState) -> LoopEdge:
    return "next batch" if state["batch_index"] < ctx.n_batches else "done"


def after_teacher(checker: TeacherChecker | None) -> Callable[[RecordState], TeacherEdge]:
    """Teacher checker edge: low confidence or no valid answer → re-prompt (capped by config)."""

    def route(state: RecordState) -> TeacherEdge:
        if checker is None:
            return "accept"
        calibration = state.get("calibration")
        threshold = calibration.reprompt_threshold if calibration is not None else None
        verdict = checker.verdict(state["attempts"], threshold)
        return "low confidence" if verdict == "reprompt" else "accept"

    return route


def fan_out(ctx: RunContext) -> Callable[[RunState], list[Send]]:
    """Send every record of the batch to its own teacher subgraph; they run concurrently."""

    def route(state: RunState) -> list[Send]:
        template = state.get("template", [])
        calibration = state.get("calibration")
        return [
            Send(
                "label_record",
                {
                    "record": ctx.records[rid],
                    "template": template,
                    "calibration": calibration,
                    "attempts": [],
                },
            )
            for rid in state["batch_ids"]
        ]

    return route


def after_collect(ctx: RunContext) -> Callable[[RunState], LoopEdge]:
    """Without a student: the next batch, or the end."""

    def route(state: RunState) -> LoopEdge:
        return _next_or_done(ctx, state)

    return route


def after_student_check(
    ctx: RunContext,
) -> Callable[[RunState], Literal["borderline", "next batch", "done"]]:
    """Borderline cases found → refine the template; otherwise on to the next batch."""

    def route(state: RunState) -> Literal["borderline", "next batch", "done"]:
        return "borderline" if state.get("borderline") else _next_or_done(ctx, state)

    return route


after_refine = after_collect
