"""Thin adapters between graph state and the agents: read state, call an agent, return changes."""

from __future__ import annotations

import random
from collections.abc import Callable

from langgraph.types import Overwrite

from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.calibration import (
    Calibration,
    PoolSample,
    RepromptEffect,
    fit_calibration,
)
from dualchecker.agents.span_calibration import SpanCalibration, SpanSample, fit_span_calibration
from dualchecker.agents.teacher import Teacher
from dualchecker.agents.types import (
    Attempt,
    Demonstration,
    LabelledRecord,
    Record,
    Span,
    TeacherAnswer,
)
from dualchecker.graph.context import RunContext
from dualchecker.graph.state import RecordState, RunState

# What a teacher "answer" event carries of the call and of its answer: the trace, its statistics
# and the timeline read these keys.
ATTEMPT_IN_EVENTS = {"cached", "messages", "raw", "error", "reasks"}
ANSWER_IN_EVENTS = {"label", "confidence", "confidence_source", "probabilities", "spans"}
NO_ANSWER = {**dict.fromkeys(ANSWER_IN_EVENTS), "spans": []}
PoolAnswer = tuple[Record, Attempt, dict[str, float] | None]
"""A pool example, the teacher's first answer to it, and its neighbours' vote."""


class TeacherNodes:
    """The per-record subgraph: align → teach → (reprompt …) → finalize."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def _vote(self, record: Record) -> dict[str, float] | None:
        """The nearest pool examples' label distribution, when the method combines it."""
        index, method = self.ctx.aligner.index, self.ctx.method
        if not method.neighbour_vote or index is None or self.ctx.task.is_spans:
            return None
        if method.vote == "probe":
            return index.probe(record, self.ctx.task.label_names)
        return index.vote(record, method.vote_k, self.ctx.task.label_names)

    def _span_vote(self, record: Record) -> list[Span] | None:
        """Span tasks: the pool tagger's spans, when the method weighs them against the teacher."""
        probe = self.ctx.span_probe
        return probe.spans(record) if probe is not None else None

    def align(self, state: RecordState) -> dict:
        """Pick the record's demonstrations (and the neighbours' vote, when used) and log them."""
        record = state["record"]
        demos = self.ctx.demonstrations.pick(
            record, state.get("template", []), self.ctx.method.n_shot
        )
        neighbours = [d.record_id for d in demos if d.source == "aligned"]
        self.ctx.events.emit(
            "aligner",
            "demonstrations",
            record_id=record.id,
            demonstrations=[d.model_dump(exclude={"spans"}) for d in demos],
        )
        return {
            "demonstrations": demos,
            "neighbours": neighbours,
            "vote": self._vote(record),
            "span_vote": self._span_vote(record),
        }

    def _ask(
        self,
        record: Record,
        demos: list[Demonstration],
        reprompt: bool,
        state: RecordState,
        contrastive: bool = False,
    ) -> dict:
        attempt = self.ctx.teacher.answer(record, demos, reprompt=reprompt, contrastive=contrastive)
        attempt = calibrated(
            attempt, state.get("calibration"), state.get("vote"), state.get("span_vote")
        )
        answer = attempt.answer
        self.ctx.events.emit(
            "teacher",
            "answer",
            record_id=record.id,
            seconds=attempt.seconds,
            usage=attempt.usage,
            reprompt=reprompt,
            **attempt.model_dump(include=ATTEMPT_IN_EVENTS),
            **(answer.model_dump(include=ANSWER_IN_EVENTS) if answer else NO_ANSWER),
        )
        return {"attempts": [attempt]}

    def teach(self, state: RecordState) -> dict:
        """The teacher's first answer, with the demonstrations `align` chose.

        A record already in the result store was finished by a run killed before its batch was
        checkpointed: its stored attempts stand, and the teacher is not asked again (the teacher
        checker reaches the same verdict on them, so the record goes straight to `finalize`).
        """
        stored = self.ctx.store.get(state["record"].id)
        if stored is not None and stored.attempts:
            return {"attempts": stored.attempts}
        return self._ask(state["record"], state["demonstrations"], reprompt=False, state=state)

    def reprompt(self, state: RecordState) -> dict:
        """Ask again with more information: the record's detail text, and either more
        demonstrations (paper) or contrastive ones, the closest examples of the two labels the
        teacher hesitates between."""
        record = state["record"]
        demos, labels = self._reprompt_demonstrations(
            record, state["attempts"][-1].answer, state.get("template", [])
        )
        return {
            **self._ask(record, demos, reprompt=True, state=state, contrastive=bool(labels)),
            "demonstrations": demos,
        }

    def _reprompt_demonstrations(
        self, record: Record, last: TeacherAnswer | None, template: list[Demonstration]
    ) -> tuple[list[Demonstration], list[str] | None]:
        """A re-prompt's demonstrations, and the two labels they contrast (contrastive style)."""
        method = self.ctx.method
        labels = None
        if method.reprompt_style == "contrastive" and last is not None and last.probabilities:
            ranked = sorted(last.probabilities, key=last.probabilities.__getitem__, reverse=True)
            labels = ranked[:2]
        return self.ctx.demonstrations.pick(record, template, method.reprompt_k, labels), labels

    def finalize(self, state: RecordState) -> dict:
        """The teacher checker's final answer, with a rationale where the method wants one,
        added to the batch's results."""
        record = state["record"]
        labelled = self.ctx.checker.final(
            record,
            state["attempts"],
            state.get("neighbours", []),
            decider(state.get("calibration")),
        )
        labelled = self._explained(record, labelled)
        # stored at once: a run killed mid-batch still shows (and exports) this record
        self.ctx.store.upsert([labelled], {rid: i for i, rid in enumerate(self.ctx.order)})
        outcome = labelled.model_dump(
            include={"label", "confidence", "reprompted", "error", "spans"}
        )
        self.ctx.events.emit("teacher_checker", "final", record_id=record.id, **outcome)
        return {"batch_results": [labelled]}

    def _explained(self, record: Record, labelled: LabelledRecord) -> LabelledRecord:
        """Write the teacher's own rationale where the method wants one and none exists yet."""
        wanted = self.ctx.method.rationales
        if self.ctx.method.confidence == "verbalised":  # the JSON answer carried its own
            return labelled
        if (
            labelled.rationale
            or not labelled.ok
            or labelled.label is None
            or wanted == "none"
            or (wanted == "reprompted" and not labelled.reprompted)
        ):
            return labelled
        rationale, usage = self.ctx.teacher.explain(record, labelled.label)
        self.ctx.events.emit("teacher", "rationale", record_id=record.id, usage=usage)
        return labelled.model_copy(update={"rationale": rationale})

    def calibrate(self, state: RunState) -> dict:
        """Before labelling: the teacher answers a sample of the human pool with the run's own
        prompt (leave-one-out demonstrations), and a calibration is fitted to the human labels."""
        ctx, method = self.ctx, self.ctx.method
        if state.get("calibration") is not None:
            return {}
        sample = calibration_sample(
            ctx.pool,
            ctx.records.values(),
            method.calibration_examples(ctx.task),
            ctx.settings.seed,
        )
        if ctx.task.is_spans:
            return self._calibrate_spans(sample)
        answered, firsts = self._answer_pool(sample)

        def fit() -> Calibration:
            calibration = fit_calibration(
                ctx.task.label_names,
                answered,
                use_neighbours=method.neighbour_vote,
                target_accuracy=method.target_accuracy,
                max_rate=method.max_reprompt_rate,
                seed=ctx.settings.seed,
                form=method.calibration_form,
                positive=ctx.task.positive if method.decision == "f1" else None,
            )
            if not (method.judge_reprompts and ctx.checker and ctx.checker.max_reprompts):
                return calibration
            effect = self._reprompt_effect(calibration, firsts)
            return calibration.model_copy(update={"reprompt_effect": effect})

        return self._fitted(answered, fit)

    def _answer_pool(self, sample: list[Record]) -> tuple[list[PoolSample], list[PoolAnswer]]:
        """The teacher's first answer to each pool example (as the run would prompt it), with the
        neighbours' vote: what the calibration is fitted on."""
        answered: list[PoolSample] = []
        firsts: list[PoolAnswer] = []
        teacher = self.ctx.teacher.for_agent("calibration")
        with self.ctx.progress("calibration: pool answers", len(sample)) as advance:
            for done, example in enumerate(sample, 1):
                demos = self.ctx.demonstrations.pick(example, [], self.ctx.method.n_shot)
                attempt = self._pool_answer(teacher, example, demos)
                advance(done)
                if attempt.answer is None or attempt.answer.probabilities is None:
                    continue
                vote = self._vote(example)
                firsts.append((example, attempt, vote))
                answered.append(
                    PoolSample(
                        record_id=example.id,
                        gold=example.label,
                        teacher=attempt.answer.probabilities,
                        neighbours=vote,
                        verbalised=attempt.answer.verbalised_confidence,
                    )
                )
        return answered, firsts

    def _pool_answer(
        self, teacher: Teacher, example: Record, demos: list[Demonstration], **options: bool
    ) -> Attempt:
        """The teacher's answer to a pool example, logged as a calibration call (its tokens and
        time count in the run's cost like any other call; no record of the run is concerned)."""
        attempt = teacher.answer(example, demos, **options)
        self.ctx.events.emit(
            "calibration",
            "reprompt" if options.get("reprompt") else "answer",
            seconds=attempt.seconds,
            usage=attempt.usage,
            example_id=example.id,
            cached=attempt.cached,
            error=attempt.error,
        )
        return attempt

    def _reprompt_effect(
        self,
        calibration: Calibration,
        firsts: list[PoolAnswer],
    ) -> RepromptEffect:
        """Re-prompt the pool answers the calibration leaves under the threshold, as the run
        would, and count what the checker's final answer did against the human label."""
        teacher = self.ctx.teacher.for_agent("calibration")
        unsure = [
            (example, first, vote)
            for example, attempt, vote in firsts
            if (first := calibrated(attempt, calibration, vote)).answer is not None
            and first.answer.confidence < calibration.threshold
        ]
        fixed = broken = 0
        with self.ctx.progress("calibration: re-prompting unsure answers", len(unsure)) as advance:
            for done, (example, first, vote) in enumerate(unsure, 1):
                demos, labels = self._reprompt_demonstrations(example, first.answer, [])
                again = self._pool_answer(
                    teacher, example, demos, reprompt=True, contrastive=bool(labels)
                )
                advance(done)
                final = self.ctx.checker.final(
                    example,
                    [first, calibrated(again, calibration, vote)],
                    decide=calibration.decide,
                )
                was_right = first.answer.label == example.label
                now_right = final.label == example.label
                fixed += now_right and not was_right
                broken += was_right and not now_right
        return RepromptEffect(tried=len(unsure), wrong_to_right=fixed, right_to_wrong=broken)

    def _calibrate_spans(self, sample: list[Record]) -> dict:
        """Spans: the teacher and the pool tagger answer the sample; a candidate scorer is fitted
        to the human spans (without a tagger there is nothing to weigh: no calibration)."""
        ctx, method = self.ctx, self.ctx.method
        if ctx.span_probe is None:
            ctx.events.emit("calibration", "skipped", reason="no pool tagger", answered=0)
            return {"calibration": None}
        ctx.span_probe.prefetch(sample)
        teacher = ctx.teacher.for_agent("calibration")
        answered: list[SpanSample] = []
        with ctx.progress("calibration: pool answers", len(sample)) as advance:
            for done, example in enumerate(sample, 1):
                demos = self.ctx.demonstrations.pick(example, [], method.n_shot)
                attempt = self._pool_answer(teacher, example, demos)
                advance(done)
                if attempt.answer is None or example.spans is None:
                    continue
                answered.append(
                    SpanSample(
                        record_id=example.id,
                        gold=example.spans,
                        teacher=attempt.answer.spans,
                        teacher_confidence=attempt.answer.confidence,
                        tagger=ctx.span_probe.spans(example),
                    )
                )
        return self._fitted(
            answered,
            lambda: fit_span_calibration(
                answered, target_accuracy=method.target_accuracy, max_rate=method.max_reprompt_rate
            ),
        )

    def _fitted(self, answered: list, fit: Callable[[], Calibration | SpanCalibration]) -> dict:
        """Fit on the answered sample and log it; a sample with nothing to learn from is logged
        as skipped and the run goes on uncalibrated."""
        try:
            calibration = fit()
        except ValueError as exc:
            self.ctx.events.emit("calibration", "skipped", reason=str(exc), answered=len(answered))
            return {"calibration": None}
        self.ctx.events.emit(
            "calibration", "fitted", answered=len(answered), calibration=calibration.model_dump()
        )
        return {"calibration": calibration}


def calibration_sample(pool: list[Record], inputs, size: int, seed: int) -> list[Record]:
    """A seeded sample of gold-labelled pool examples whose texts are not among the inputs."""
    taken = {normalise_text(r.text) for r in inputs}
    candidates = [r for r in pool if r.has_gold and normalise_text(r.text) not in taken]
    return random.Random(seed).sample(candidates, min(size, len(candidates)))


def decider(calibration: Calibration | SpanCalibration | None):
    """The label calibration's decision rule, for averaged distributions (None: most likely)."""
    return calibration.decide if isinstance(calibration, Calibration) else None


def calibrated(
    attempt: Attempt,
    calibration: Calibration | SpanCalibration | None,
    vote: dict[str, float] | None,
    span_vote: list[Span] | None = None,
) -> Attempt:
    """The attempt with its label distribution calibrated (label = most likely, confidence = its
    probability); the model's own distribution stays in `raw_probabilities`. Spans: the
    calibration chooses among the teacher's and the pool tagger's spans (`raw_spans` keeps the
    teacher's own)."""
    answer = attempt.answer
    if isinstance(calibration, SpanCalibration):
        if answer is None or span_vote is None:
            return attempt
        spans, confidence = calibration.apply(answer.spans, span_vote)
        update = {"spans": spans, "confidence": confidence, "raw_spans": answer.spans}
        return attempt.model_copy(update={"answer": answer.model_copy(update=update)})
    if calibration is None or answer is None or answer.raw_probabilities is None:
        return attempt
    probabilities = calibration.apply(answer.raw_probabilities, vote)
    label = calibration.decide(probabilities)
    return attempt.model_copy(
        update={
            "answer": answer.model_copy(
                update={
                    "label": label,
                    "confidence": probabilities[label],
                    "probabilities": probabilities,
                }
            )
        }
    )


class LoopNodes:
    """The outer loop: plan a batch, collect its labels (and, with a student, train and check)."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def plan_batch(self, state: RunState) -> dict:
        """Choose the next batch's records, embed them in one go, and clear the batch's results."""
        index = state.get("batch_index", 0)
        ids = self.ctx.batch_ids(index)
        batch = [self.ctx.records[i] for i in ids]
        if self.ctx.aligner.index is not None:
            self.ctx.aligner.index.prefetch(batch)
        if self.ctx.span_probe is not None:
            self.ctx.span_probe.prefetch(batch)
        self.ctx.events.emit("runner", "batch_planned", batch=index, record_ids=ids)
        return {"batch_ids": ids, "batch_results": Overwrite([])}

    def collect(self, state: RunState) -> dict:
        """Save the batch's labels to the result store and move on to the next batch."""
        index = state.get("batch_index", 0)
        results = state.get("batch_results", [])
        order = {rid: i for i, rid in enumerate(self.ctx.order)}
        self.ctx.store.upsert(results, order)
        self.ctx.events.emit(
            "runner",
            "batch_labelled",
            batch=index,
            labelled=sum(r.ok for r in results),
            failed=sum(not r.ok for r in results),
            reprompted=sum(r.reprompted for r in results),
        )
        return {"batch_index": index + 1}
