"""Thin adapters between graph state and the agents: read state, call an agent, return changes."""

from __future__ import annotations

from langgraph.types import Overwrite

from dualchecker.agents.types import Demonstration, Record
from dualchecker.graph.context import RunContext
from dualchecker.graph.state import RecordState, RunState


class TeacherNodes:
    """The per-record subgraph: align → teach → (reprompt …) → finalize."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def _demonstrations(self, record: Record, template: list[Demonstration], k: int) -> list[Demonstration]:
        """Refined-template demonstrations first, then aligned (or static) ones, k of those."""
        method, ctx = self.ctx.method, self.ctx
        shown_template = template[-method.template_size:] if method.template_size else []
        if method.demonstrations == "static":
            examples = [r for r in ctx.static if r.id != record.id][:k]
            demos = [Demonstration(source="static", record_id=r.id, text=r.text, label=r.label,
                                   spans=r.spans or [],
                                   rationale=ctx.aligner.rationale(r) if method.explain_examples else "")
                     for r in examples]
        else:
            demos = ctx.aligner.demonstrations(record, k)
        return shown_template + demos

    def align(self, state: RecordState) -> dict:
        record = state["record"]
        demos = self._demonstrations(record, state.get("template", []), self.ctx.method.n_shot)
        neighbours = [d.record_id for d in demos if d.source == "aligned"]
        self.ctx.events.emit("aligner", "demonstrations", record_id=record.id,
                             demonstrations=[d.model_dump(exclude={"spans"}) for d in demos])
        return {"demonstrations": demos, "neighbours": neighbours}

    def _ask(self, record: Record, demos: list[Demonstration], reprompt: bool) -> dict:
        attempt = self.ctx.teacher.answer(record, demos, reprompt=reprompt)
        answer = attempt.answer
        self.ctx.events.emit(
            "teacher", "answer", record_id=record.id, seconds=attempt.seconds, usage=attempt.usage,
            reprompt=reprompt, cached=attempt.cached, messages=attempt.messages, raw=attempt.raw,
            error=attempt.error,
            label=answer.label if answer else None, confidence=answer.confidence if answer else None,
            spans=[s.model_dump() for s in answer.spans] if answer else [])
        return {"attempts": [attempt]}

    def teach(self, state: RecordState) -> dict:
        return self._ask(state["record"], state["demonstrations"], reprompt=False)

    def reprompt(self, state: RecordState) -> dict:
        """Ask again with more: the record's detail text and more (closer) demonstrations."""
        record = state["record"]
        demos = self._demonstrations(record, state.get("template", []), self.ctx.method.reprompt_k)
        return {**self._ask(record, demos, reprompt=True), "demonstrations": demos}

    def finalize(self, state: RecordState) -> dict:
        record = state["record"]
        labelled = self.ctx.checker.final(record, state["attempts"], state.get("neighbours", []))
        self.ctx.events.emit("teacher_checker", "final", record_id=record.id,
                             label=labelled.label, confidence=labelled.confidence,
                             reprompted=labelled.reprompted, error=labelled.error,
                             spans=[s.model_dump() for s in labelled.spans])
        return {"batch_results": [labelled]}


class LoopNodes:
    """The outer loop: plan a batch, collect its labels (and, with a student, train and check)."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def plan_batch(self, state: RunState) -> dict:
        index = state.get("batch_index", 0)
        ids = self.ctx.batch_ids(index)
        if self.ctx.aligner.index is not None:
            self.ctx.aligner.index.prefetch([self.ctx.records[i] for i in ids])
        self.ctx.events.emit("runner", "batch_planned", batch=index, record_ids=ids)
        return {"batch_ids": ids, "batch_results": Overwrite([])}

    def collect(self, state: RunState) -> dict:
        index = state.get("batch_index", 0)
        results = state.get("batch_results", [])
        order = {rid: i for i, rid in enumerate(self.ctx.order)}
        self.ctx.store.upsert(results, order)
        self.ctx.events.emit("runner", "batch_labelled", batch=index,
                             labelled=sum(r.ok for r in results), failed=sum(not r.ok for r in results),
                             reprompted=sum(r.reprompted for r in results))
        return {"batch_index": index + 1}
