"""The composition root: every agent of a run is built here, once, from its configuration.

`Run` loads data, opens the store and the event log, then asks `build_context` for the agents;
nothing else constructs one, and nothing reaches into the context afterwards to add more.
"""

from __future__ import annotations

import logging

from dualchecker.agents.aligner import ContextAligner, ExampleIndex, normalise_text
from dualchecker.agents.backends import ChatBackend, Completion
from dualchecker.agents.checkers import StudentChecker, TeacherChecker, UncertaintyChecker
from dualchecker.agents.demonstrations import DemonstrationPicker, static_examples
from dualchecker.agents.embedders import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from dualchecker.agents.evokd import SampleWriter
from dualchecker.agents.prompting import PromptBook
from dualchecker.agents.span_probe import SpanProbe
from dualchecker.agents.student import StudentAgent
from dualchecker.agents.teacher import Teacher
from dualchecker.agents.template import TemplateRefiner
from dualchecker.agents.types import Record
from dualchecker.graph.config import RetrievalConfig, RunConfig
from dualchecker.graph.context import RunContext
from dualchecker.graph.events import EventLog
from dualchecker.graph.nodes import calibration_sample
from dualchecker.graph.store import ResultStore

log = logging.getLogger(__name__)

# Below this many pool examples (outside the inputs) a span tagger learns nothing useful; above
# it, a small pool is shared out-of-fold with the calibration sample (`SpanProbe`).
MIN_TAGGER_EXAMPLES = 16


def pool_is_inputs(pool: list[Record], inputs: list[Record]) -> bool:
    """True when the inputs are their own pool (no separate pool given): each input is then
    answered out-of-fold, the others as its pool. Any other pool must not share their texts."""
    return pool is inputs or pool == inputs


def make_embedder(cfg: RetrievalConfig) -> Embedder:
    """The retrieval embedder the config names: the hashing one, or a sentence-transformers model."""
    if cfg.kind == "hashing":
        return HashingEmbedder()
    return SentenceTransformerEmbedder(cfg.model, max_seq_length=cfg.max_seq_length)


def build_context(
    config: RunConfig,
    *,
    backend: ChatBackend,
    inputs: list[Record],
    pool: list[Record],
    store: ResultStore,
    events: EventLog,
    embedder: Embedder | None = None,
    with_student: bool = True,
) -> RunContext:
    """The run's records, agents, checkers and sinks: the teacher side always, the student side
    when the method has one (`with_student` off leaves it out, e.g. for teacher benchmarks).

    On resume the online student is rebuilt from the teacher labels stored so far (one online
    step over all of them), since model weights are not part of the graph checkpoint.
    """
    method = config.method
    prompts = PromptBook(config.prompts_dir)
    needs_index = (
        method.demonstrations in ("aligned", "paper")
        and max(method.n_shot, method.reprompt_k) > 0
        or method.neighbour_vote
    )
    index = (
        ExampleIndex(
            pool,
            embedder or make_embedder(config.retrieval),
            never_train_on=set() if pool_is_inputs(pool, inputs) else _texts(inputs),
        )
        if needs_index
        else None
    )

    def on_rationale(example_id: str, messages: list[dict], reply: Completion) -> None:
        events.emit(
            "aligner",
            "rationale",
            record_id=example_id,
            usage=reply.usage,
            seconds=reply.seconds,
            cached=reply.cached,
            messages=messages,
            raw=reply.text,
        )

    aligner = ContextAligner(
        config.task,
        index,
        backend.for_agent("aligner"),
        prompts,
        explain=method.explain_examples,
        on_call=on_rationale,
    )
    ctx = RunContext(
        task=config.task,
        method=method,
        settings=config.run,
        records={r.id: r for r in inputs},
        order=[r.id for r in inputs],
        teacher=Teacher(
            config.task,
            backend.for_agent("teacher"),
            prompts,
            style=method.style,
            confidence=method.confidence,
            samples=method.samples,
            verbalise=method.verbalise,
            max_reasks=method.max_reasks,
        ),
        pool=pool,
        checker=TeacherChecker(
            threshold=method.threshold,
            max_reprompts=method.max_reprompts,
            final_rule=method.final_rule,
        ),
        aligner=aligner,
        demonstrations=DemonstrationPicker(
            aligner,
            static_examples(pool, max(method.n_shot, method.reprompt_k), config.run.seed),
            layout=method.demonstrations,
            n_shot=method.n_shot,
            template_size=method.template_size,
            balanced=method.balanced,
            explain_examples=method.explain_examples,
        ),
        events=events,
        store=store,
        span_probe=span_probe(config, inputs, pool),
    )
    if with_student and method.student:
        _add_student_side(ctx, config, backend, prompts, store)
    return ctx


def _texts(records: list[Record]) -> set[str]:
    return {normalise_text(r.text) for r in records}


def span_probe(config: RunConfig, inputs: list[Record], pool: list[Record]) -> SpanProbe | None:
    """Span tasks that combine the teacher with the pool: a tagger fitted on the pool less the
    inputs' texts, answering the calibration sample out-of-fold (whose answers must be as unseen
    as the records'). With the inputs as their own pool nothing is left to fit it on."""
    method = config.method
    if not (config.task.is_spans and method.neighbour_vote and method.calibrate):
        return None
    held_out = calibration_sample(
        pool, inputs, method.calibration_examples(config.task), config.run.seed
    )
    probe = SpanProbe(
        config.task,
        pool,
        held_out=_texts(held_out),
        exclude=_texts(inputs),
        epochs=method.span_probe_epochs,
        seed=config.run.seed,
        model=method.span_probe_model,
    )
    if len(probe.training) < MIN_TAGGER_EXAMPLES:
        log.info(
            "span tasks: %d pool examples outside the inputs are too few for a tagger",
            len(probe.training),
        )
        return None
    return probe


def _add_student_side(
    ctx: RunContext,
    config: RunConfig,
    backend: ChatBackend,
    prompts: PromptBook,
    store: ResultStore,
) -> None:
    """The online student, its checker, and what turns a borderline case into teaching: a
    template refiner, or EvoKD's sample writer."""
    from dualchecker.distill import make_trainer, student_config

    settings, method = config.student, config.method
    trainer = make_trainer(student_config(config.task, settings, config.run.seed), settings)
    ctx.student = StudentAgent(
        config.task,
        trainer,
        min_confidence=settings.min_confidence,
        weighting=settings.teacher_weight,
        human_pool=ctx.pool if settings.human_pool else (),
    )
    feedback = backend.for_agent("student_checker")
    if method.evokd:
        ctx.student_checker = UncertaintyChecker()
        ctx.sample_writer = SampleWriter(config.task, feedback, prompts)
    else:
        ctx.student_checker = StudentChecker(per_batch=method.borderline_per_batch)
        ctx.refiner = TemplateRefiner(config.task, feedback, prompts)
    already_labelled = store.all()
    if already_labelled:
        ctx.student.train(already_labelled + store.synthetic())
