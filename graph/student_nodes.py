"""The student side of the loop: train on the batch, check it, refine the teacher's template."""

from __future__ import annotations

from dualchecker.agents.checkers import StudentAnswer, has_gold, without_gold
from dualchecker.agents.student import prediction_answer
from dualchecker.graph.context import RunContext
from dualchecker.graph.state import RunState


class StudentNodes:
    """The student-side nodes of the batch loop: train, check, refine the template, synthesise."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def train_student(self, state: RunState) -> dict:
        """Score the student on the new batch before training (an honest online number), train,
        then record what it predicts now for the checker."""
        ctx, batch = self.ctx, state["batch_index"] - 1
        results = state.get("batch_results", [])
        before = [
            prediction_answer(ctx.task, r.text, p)
            for r, p in zip(results, ctx.student.predict(results))
        ]
        report, left_out = ctx.student.train(results)
        after = [
            StudentAnswer(
                label=(said := prediction_answer(ctx.task, r.text, p))[0],
                spans=said[1],
                confidence=p.confidence,
            )
            for r, p in zip(results, ctx.student.predict(results))
        ]
        summary = {
            "examples": report.examples if report else 0,
            "left_out": left_out,
            "loss": report.loss if report else None,
            "seconds": report.seconds if report else 0.0,
            "samples_per_s": report.samples_per_s if report else 0.0,
        }
        ctx.events.emit(
            "student",
            "batch_trained",
            batch=batch,
            **summary,
            predictions=[
                {
                    "record_id": r.id,
                    "before_label": b[0],
                    "before_spans": [s.model_dump() for s in b[1]],
                    "label": a.label,
                    "spans": [s.model_dump() for s in a.spans],
                    "confidence": a.confidence,
                    "teacher_label": r.label,
                    "gold_label": r.gold_label,
                }
                for r, b, a in zip(results, before, after)
            ],
        )
        return {"student_answers": after}

    def check_student(self, state: RunState) -> dict:
        """The batch's borderline cases from the student checker (none when the method has no
        student checker and no EvoKD). The inputs' gold reaches it only where the run says a
        human answers it; the event counts the human labels it read and those it fed back."""
        ctx = self.ctx
        if ctx.student_checker is None or not (ctx.method.student_checker or ctx.method.evokd):
            return {"borderline": []}
        answers = state.get("student_answers", [])
        results = state.get("batch_results", [])
        if not ctx.settings.inputs_gold_for_feedback or ctx.method.evokd:  # EvoKD uses none
            results = without_gold(results)
        cases = ctx.student_checker.borderline(ctx.task, results, answers)
        ctx.events.emit(
            "student_checker",
            "borderline",
            batch=state["batch_index"] - 1,
            cases=[c.model_dump() for c in cases],
            human_labels_read=sum(has_gold(ctx.task, r) for r in results),
            human_labels_used=sum(c.reason == "wrong vs gold" for c in cases),
        )
        return {"borderline": cases}

    def refine_template(self, state: RunState) -> dict:
        """One explained demonstration per borderline case, appended to the teacher's template."""
        ctx, batch = self.ctx, state["batch_index"] - 1
        demos = []
        for case in state.get("borderline", []):
            demo, reply = ctx.refiner.demonstration(ctx.records[case.record_id], case)
            demos.append(demo)
            ctx.events.emit(
                "student_checker",
                "template_changed",
                batch=batch,
                record_id=case.record_id,
                usage=reply.usage if reply else None,
                reason=case.reason,
                demonstration=demo.model_dump(),
                template_size=len(state.get("template", [])) + len(demos),
            )
        return {"template": demos}

    def synthesise(self, state: RunState) -> dict:
        """EvoKD: the LLM writes labelled samples from the student's uncertain cases; the student
        trains on them now and they join the final student's data."""
        ctx, batch = self.ctx, state["batch_index"] - 1
        cases = state.get("borderline", [])
        samples, info = ctx.sample_writer.write(
            cases, {rid: ctx.records[rid].text for rid in ctx.records}, prefix=f"synthetic-b{batch}"
        )
        ctx.store.add_synthetic(samples)
        if samples:
            ctx.student.train(samples)
        ctx.events.emit(
            "student_checker",
            "samples_written",
            batch=batch,
            usage=info["usage"],
            summary=info["summary"],
            rejected=info["rejected"],
            samples=[s.model_dump(exclude={"attempts"}) for s in samples],
        )
        return {}
