"""Run the DualChecker graph over a dataset: build the agents, checkpoint, resume, summarise."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, ConfigDict, Field

from dualchecker.agents.aligner import ExampleIndex, normalise_text
from dualchecker.agents.backends import ChatBackend, make_backend
from dualchecker.agents.calibration import reliability
from dualchecker.agents.embedders import Embedder
from dualchecker.agents.llm_cache import AgentUsage, SQLiteLLMCache
from dualchecker.agents.types import LabelledRecord, Record, Usage
from dualchecker.comparison import StudentComparison, plain_sentence
from dualchecker.compose import build_context, make_embedder, pool_is_inputs
from dualchecker.contribution import TeacherContribution, contribution, pool_answers
from dualchecker.data import atomic_write_text, load_records, write_labels_jsonl
from dualchecker.errors import ConfigError, DataError
from dualchecker.evaluation import teacher_scores
from dualchecker.events import EventLog, read_events
from dualchecker.graph.build import build_graph
from dualchecker.graph.config import RunConfig
from dualchecker.graph.context import no_progress
from dualchecker.graph.store import ResultStore
from dualchecker.training.progress import progress_bar, progress_bars

log = logging.getLogger(__name__)

THREAD = {"configurable": {"thread_id": "run"}}
SERIALISED_TYPES = (
    [
        ("dualchecker.agents.types", name)
        for name in (
            "Record",
            "Span",
            "TeacherAnswer",
            "Usage",
            "Attempt",
            "Demonstration",
            "LabelledRecord",
            "TaskKind",
        )
    ]
    + [
        ("dualchecker.agents.calibration", name)
        for name in ("Calibration", "Reliability", "ReliabilityBin")
    ]
    + [("dualchecker.agents.span_calibration", "SpanCalibration")]
    + [("dualchecker.agents.checkers", name) for name in ("StudentAnswer", "Borderline")]
)


class RunSummary(BaseModel):
    """What a run produced, printed by the CLI and saved as summary.json."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    run_dir: str
    method: str
    records: int
    labelled: int
    failed: int
    reprompted: int
    reprompt_rate: float
    changed_by_reprompt: int
    llm_calls: int
    """Real LLM calls of the whole run, over every resume (cache hits excluded)."""
    usage: Usage
    seconds: float
    """Wall time of the whole run, over every resume."""
    seconds_by_phase: dict[str, float] = Field(default_factory=dict)
    """Of `seconds`: labelling (teacher side), the online student's training, the final students."""
    cache_hits: int = 0
    cached_seconds: float = 0.0
    """What the cache hits' calls took when first made: seconds saved."""
    note: str | None = None
    """E.g. that a finished run was not run again."""
    template_refinements: int = 0
    """Demonstrations the student checker added to the teaching template."""
    by_agent: dict[str, AgentUsage] = Field(default_factory=dict)
    """Calls, cache hits, tokens (and $) per agent."""
    cost_usd: float | None = None
    """From `prices` in the config, when the model is listed."""
    teacher: dict[str, float] | None = None
    """Scores against gold, when present."""
    reprompt_flips: dict[str, int] | None = None
    """Re-prompts that changed the label, against gold: wrong_to_right, right_to_wrong, other (wrong
    to another wrong, or no gold)."""
    confidence: dict[str, Any] | None = None
    """Where confidences came from (counts per source) and, against gold, their reliability (ECE,
    AUROC, bins) for the first and final answers."""
    calibration: dict[str, Any] | None = None
    """The calibration fitted on the pool: threshold, neighbour weight, reliability before and
    after."""
    student: dict[str, Any] | None = None
    contribution: TeacherContribution | None = None
    """The teacher's fitted weight and the final labels it changed against the pool model's."""
    comparison: StudentComparison | None = None
    """The run's student against the pool-only and self-training students, paired on the
    held-out records."""
    outputs: dict[str, str] = Field(default_factory=dict)


LLM_CACHE_FILES = ("llm_cache.sqlite", "llm_cache.sqlite-wal", "llm_cache.sqlite-shm")


def clear_run_dir(run_dir: Path) -> None:
    """Start a run over: drop its progress and outputs but keep its LLM cache (replies already
    paid for; delete ``llm_cache.sqlite`` by hand, or set ``run.llm_cache: false``, to re-ask)."""
    if not run_dir.exists():
        return
    for path in run_dir.iterdir():
        if path.name in LLM_CACHE_FILES:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if any(run_dir.iterdir()):
        log.info("%s: starting over; the LLM cache is kept", run_dir)


def check_disjoint(
    held_out: list[Record],
    others: dict[str, list[Record]],
    *,
    allow: bool = False,
    what: str = "evaluation records",
    setting: str = "student.allow_eval_overlap",
) -> None:
    """`held_out` records must not also be training or retrieval material: none may share its
    (normalised) text with any of `others` (evaluation records against the pool and the inputs;
    the inputs against a separate pool).

    Raises:
        DataError: on any overlap (named by id), unless `allow`, which only warns with counts.
    """

    seen = {normalise_text(r.text): r.id for r in held_out}
    for name, records in others.items():
        clash = [(seen[key], r.id) for r in records if (key := normalise_text(r.text)) in seen]
        if not clash:
            continue
        shown = ", ".join(f"{a} = {name} {b}" for a, b in clash[:8])
        more = f" (and {len(clash) - 8} more)" if len(clash) > 8 else ""
        message = f"{len(clash)} {what} also appear in the {name}: {shown}{more}"
        if not allow:
            raise DataError(f"{message}; remove them, or set {setting}")
        log.warning("%s (allowed by %s)", message, setting)


def fingerprint(config: RunConfig, records: list[Record]) -> str:
    """Identifies a run's inputs and settings; a run dir refuses to resume a different run."""
    body = config.model_dump_json(
        exclude={
            "run": {"max_concurrency", "llm_cache", "llm_cache_path", "node_retries"},
            "prices": True,
            "backend": {"api_key", "max_retries", "timeout_s", "requests_per_second"},
        }
    )
    ids = ",".join(r.id for r in records)
    return hashlib.sha256((body + ids).encode()).hexdigest()[:16]


@contextmanager
def open_checkpointer(path: Path) -> Iterator[SqliteSaver]:
    """A LangGraph SQLite checkpointer on `path` (WAL mode), closed on exit."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing; no fsync per write
    try:
        yield SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=SERIALISED_TYPES))
    finally:
        conn.close()


class Run:
    """One run directory: config, checkpoints, results, events and outputs live side by side."""

    def __init__(
        self,
        config: RunConfig,
        *,
        llm: BaseChatModel | ChatBackend | None = None,
        embedder: Embedder | None = None,
        inputs: list[Record] | None = None,
        pool: list[Record] | None = None,
        fresh: bool = False,
        with_student: bool = True,
    ):
        self.config = config
        self.dir = Path(config.run.dir)
        # data and backend first: a bad file or config must not leave an empty run dir behind
        self.inputs = inputs if inputs is not None else load_records(config.inputs, config.task)
        if pool is None:
            pool = load_records(config.pool, config.task) if config.pool else self.inputs
        self.pool = pool
        if not pool_is_inputs(pool, self.inputs):  # the inputs as their own pool: out-of-fold
            check_disjoint(
                self.inputs,
                {"pool": pool},
                allow=config.run.allow_pool_overlap,
                what="inputs",
                setting="run.allow_pool_overlap",
            )
        self.backend = make_backend(llm if llm is not None else config.backend)
        if fresh:
            clear_run_dir(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cache = self._attach_cache(own_model=llm is not None)
        self.store = ResultStore(self.dir / "results.sqlite")
        self._check_fingerprint()
        self.backend.ledger.sink = self.store.add_usage
        self.seconds_before = float(self.store.get_meta("seconds") or 0.0)
        """Wall time earlier processes spent on this run (up to their last finished batch)."""
        self.events = EventLog(
            self.dir / "events.jsonl", run_id=self.store.get_meta("run_id") or ""
        )
        self.ctx = build_context(
            config,
            backend=self.backend,
            inputs=self.inputs,
            pool=self.pool,
            store=self.store,
            events=self.events,
            embedder=embedder,
            with_student=with_student,
        )
        self.with_student = with_student
        self.embedder = embedder
        self.held_out: list[Record] = []
        if with_student and config.student.eval is not None:
            self.held_out = load_records(config.student.eval, config.task)
            check_disjoint(
                self.held_out,
                {"pool": self.pool, "inputs": self.inputs},
                allow=config.student.allow_eval_overlap,
            )

    def _attach_cache(self, *, own_model: bool) -> SQLiteLLMCache | None:
        """The run's LLM cache: on for config-built backends unless `run.llm_cache` says otherwise."""
        wanted = self.config.run.llm_cache
        if wanted is False or (wanted is None and own_model):
            return None
        cache = SQLiteLLMCache(self.config.run.llm_cache_path or self.dir / "llm_cache.sqlite")
        self.backend.use_cache(cache)
        return cache

    def _check_fingerprint(self) -> None:
        mark = fingerprint(self.config, self.inputs)
        stored = self.store.get_meta("fingerprint")
        if stored is not None and stored != mark:
            raise ConfigError(
                f"{self.dir} holds a different run (other config or data); "
                "use a new run dir or --fresh"
            )
        if stored is None:
            self.store.set_meta("fingerprint", mark)
            self.store.set_meta("run_id", f"{self.dir.name}-{time.strftime('%Y%m%dT%H%M%S')}")
        atomic_write_text(
            self.dir / "config.json",
            self.config.model_dump_json(indent=2, exclude={"backend": {"api_key"}}),
        )

    def graph(self, checkpointer: SqliteSaver | None = None) -> CompiledStateGraph:
        """The run's compiled labelling graph, checkpointed when a checkpointer is given."""
        return build_graph(self.ctx, checkpointer)

    def execute(self, *, progress: bool = True, title: str = "labelling") -> RunSummary:
        """Run to the end, resuming from the last checkpoint if the run dir has one.

        With `progress`, every long step shows a bar with an ETA on stderr (the calibration's
        pool answers, the records as each is labelled, titled `title`, and the final students'
        epochs); without, the run prints nothing.
        """
        self._progress = progress
        self.ctx.progress = _progress_hook if progress else no_progress
        with progress_bars(progress):
            return self._execute(progress, title)

    def _execute(self, progress: bool, title: str) -> RunSummary:
        started = time.perf_counter()
        total = len(self.ctx.order)
        with open_checkpointer(self.dir / "checkpoints.sqlite") as saver:
            graph = self.graph(saver)
            config = {
                **THREAD,
                "max_concurrency": self.config.run.max_concurrency,
                "recursion_limit": 10 * self.ctx.n_batches + 20,
            }
            snapshot = graph.get_state(config)
            # a task whose writes were saved before a kill is in `tasks` but not in `next`
            pending = bool(snapshot.next or snapshot.tasks)
            if snapshot.values and not pending:
                stored = self._stored_summary()
                if stored is not None:  # nothing to do: the first run's figures stand
                    return stored
                graph_input = None
                finished = True
            else:
                finished = False
                graph_input = None if pending else {"batch_index": 0, "template": []}
                self.events.emit(
                    "runner",
                    "run_resumed" if pending else "run_started",
                    records=total,
                    already_labelled=len(self.store),
                    method=self.config.method.model_dump(),
                )
            if not finished and total:
                self._announce_labelling(total)
                with _progress(progress, total, len(self.store), desc=title) as advance:
                    for update in graph.stream(graph_input, config, stream_mode="updates"):
                        advance(len(self.store))  # each record is stored as it is finished
                        if "collect" in update:
                            # a killed process's time still counts, up to its last batch
                            self.store.set_meta(
                                "seconds", str(self.seconds_before + time.perf_counter() - started)
                            )
        return self._finish(time.perf_counter() - started)

    def phase(self, text: str) -> None:
        """Say what starts now (on stderr, with a progress bar showing)."""
        if getattr(self, "_progress", False):
            print(f"▶ {text}", file=sys.stderr, flush=True)

    def _announce_labelling(self, total: int) -> None:
        method, ctx = self.config.method, self.ctx
        if method.calibrate and not self.config.task.is_spans and not len(self.store):
            self.phase(
                f"calibrating the teacher on up to {method.calibration_examples(self.config.task)} "
                "human-labelled pool examples"
            )
        after = ", the student training after each" if method.student and self.with_student else ""
        self.phase(
            f"labelling {total - len(self.store)} records in batches of "
            f"{ctx.settings.batch_size}{after}"
        )

    def _stored_summary(self) -> RunSummary | None:
        """A finished run's summary, unchanged, with a note saying nothing was run again."""
        path = self.dir / "summary.json"
        if not path.is_file():
            return None
        summary = RunSummary.model_validate_json(path.read_text(encoding="utf-8"))
        log.info("%s is already complete", self.dir)
        return summary.model_copy(
            update={"note": "already complete: nothing was run again (use --fresh to start over)"}
        )

    def _finish(self, seconds: float) -> RunSummary:
        labelled = self.store.all()
        outputs = {
            "labels": str(self.dir / "labels.jsonl"),
            "events": str(self.dir / "events.jsonl"),
            "summary": str(self.dir / "summary.json"),
        }
        write_labels_jsonl(self.dir / "labels.jsonl", labelled)
        seconds += self.seconds_before
        self.store.set_meta("seconds", str(seconds))
        summary = summarise(
            self.config,
            labelled,
            self.backend,
            seconds,
            outputs,
            by_agent=self.store.usage_by_agent(),
        )
        fitted = [
            e
            for e in read_events(self.dir / "events.jsonl")
            if e.agent == "calibration" and e.kind == "fitted"
        ]
        if fitted:
            summary.calibration = {
                k: v
                for k, v in fitted[-1].data["calibration"].items()
                if k not in ("coef", "intercept")
            }
        summary.template_refinements = sum(
            1
            for e in read_events(self.dir / "events.jsonl")
            if e.agent == "student_checker" and e.kind == "template_changed"
        )
        if (
            self.with_student
            and self.config.student.final
            and (self.held_out or self.config.method.student)
        ):
            self.phase(
                f"final students: fine-tuning {self.config.student.final_epochs} epochs on "
                + (
                    "the teacher's labels and, for reference, on human labels"
                    if self.held_out
                    else "the teacher's labels (no held-out data to score it on)"
                )
            )
        final_started = time.perf_counter()
        pool_said = self._pool_answers()
        summary.contribution = contribution(
            self.config.task,
            labelled,
            pool_said,
            (summary.calibration or {}).get("neighbour_weight"),
        )
        summary.student = self._final_students(labelled, pool_said)
        if summary.student and summary.student.get("comparison"):
            summary.comparison = StudentComparison.model_validate(summary.student["comparison"])
        if summary.student and summary.student.get("saved_to"):
            summary.outputs["student"] = summary.student["saved_to"]
        final_seconds = time.perf_counter() - final_started
        summary.seconds += final_seconds
        online = sum(
            e.seconds or 0.0
            for e in read_events(self.dir / "events.jsonl")
            if e.agent == "student" and e.kind == "batch_trained"
        )
        summary.seconds_by_phase = {
            "labelling": max(0.0, seconds - online),
            "online_student": online,
            "final_students": final_seconds,
        }
        self.store.set_meta("seconds", str(summary.seconds))
        atomic_write_text(self.dir / "summary.json", summary.model_dump_json(indent=2))
        self.events.emit("runner", "run_finished", summary=summary.model_dump())
        self.events.close()
        return summary

    def _pool_answers(self) -> list[LabelledRecord]:
        """The pool model's own answers to the inputs (for the changed share and self-training):
        the run's retrieval index when it has one, else one built on the pool. None when the
        inputs are their own pool: a model fitted on their labels would only repeat them."""
        if pool_is_inputs(self.pool, self.inputs):
            return []
        index = self.ctx.aligner.index
        if index is None and not self.config.task.is_spans:
            index = ExampleIndex(self.pool, self.embedder or make_embedder(self.config.retrieval))
        return pool_answers(self.config.task, self.inputs, index, self.ctx.span_probe)

    def _final_students(
        self, labelled: list[LabelledRecord], pool_said: list[LabelledRecord]
    ) -> dict[str, Any] | None:
        settings = self.config.student
        if not (self.with_student and settings.final):
            return None
        if not self.held_out:
            if not self.config.method.student:  # a teacher-only method, nothing to score: done
                return None
            log.info("no student.eval data: the final student is trained and saved, not scored")
        from dualchecker.distill import FinalData, final_students

        # the gold reference (a ceiling, for benchmarks) learns from the pool and the human
        # labels of exactly the records the teacher labelled, when they have them
        labelled_gold = [r for r in self.inputs if r.has_gold]
        data = FinalData(
            labelled=labelled,
            pool=self.pool,
            reference=[*self.pool, *labelled_gold] if labelled_gold else [],
            pool_answers=pool_said,
            synthetic=self.store.synthetic(),
        )
        result = final_students(
            self.config.task,
            settings,
            self.config.run.seed,
            data,
            self.held_out,
            save_dir=self.dir / "student",
            predictions_dir=self.dir / "student_test",
        )
        if labelled_gold:
            result["gold_reference_data"] = (
                f"the {len(self.pool)} pool examples and the human labels of the "
                f"{len(labelled_gold)} records the teacher labelled"
            )
        self.events.emit("student", "final", **result)
        return result


def summarise(
    config: RunConfig,
    labelled: list[LabelledRecord],
    backend: ChatBackend,
    seconds: float,
    outputs: dict[str, str],
    by_agent: dict[str, AgentUsage] | None = None,
) -> RunSummary:
    """The run's figures; `by_agent` (default: this process's ledger) is the LLM bill."""
    reprompted = [r for r in labelled if r.reprompted]
    changed = sum(
        1
        for r in reprompted
        if r.before is not None and (r.before.label, r.before.spans) != (r.label, r.spans)
    )
    price = config.prices.get(backend.name)
    by_agent = backend.ledger.by_agent() if by_agent is None else by_agent
    total = sum(by_agent.values(), AgentUsage()).priced(price)
    return RunSummary(
        run_dir=str(config.run.dir),
        method=config.method.name,
        records=len(labelled),
        labelled=sum(r.ok for r in labelled),
        failed=sum(not r.ok for r in labelled),
        reprompted=len(reprompted),
        reprompt_rate=len(reprompted) / len(labelled) if labelled else 0.0,
        changed_by_reprompt=changed,
        llm_calls=total.calls,
        usage=total.usage,
        seconds=seconds,
        cache_hits=total.cache_hits,
        cached_seconds=total.cached_seconds,
        cost_usd=total.cost_usd,
        by_agent={name: u.priced(price) for name, u in by_agent.items()},
        teacher=teacher_scores(config.task, labelled),
        outputs=outputs,
        reprompt_flips=reprompt_flips(labelled),
        confidence=confidence_report(config.task, labelled),
    )


def reprompt_flips(labelled: list[LabelledRecord]) -> dict[str, int]:
    """How the re-prompts that changed an answer moved it relative to the human label."""
    flips = {"wrong_to_right": 0, "right_to_wrong": 0, "other": 0}
    for r in labelled:
        if r.before is None:
            continue
        spans = r.gold_spans is not None or bool(r.spans or r.before.spans)
        said = lambda label, found: frozenset(s.key() for s in found) if spans else label  # noqa: E731
        before, after = said(r.before.label, r.before.spans), said(r.label, r.spans)
        if before == after:
            continue
        gold = said(None, r.gold_spans) if r.gold_spans is not None else r.gold_label
        if gold is None or before != gold and after != gold:
            flips["other"] += 1
        elif after == gold:
            flips["wrong_to_right"] += 1
        else:
            flips["right_to_wrong"] += 1
    return flips


def confidence_report(task, labelled: list[LabelledRecord]) -> dict[str, Any]:
    """Confidence sources, and (classification with gold) reliability of first and final answers."""
    sources: dict[str, int] = {}
    for r in labelled:
        if r.ok and r.attempts and r.attempts[-1].answer is not None:
            source = r.attempts[-1].answer.confidence_source
            sources[source] = sources.get(source, 0) + 1
    report: dict[str, Any] = {"sources": sources}
    scored = [r for r in labelled if r.ok and r.gold_label is not None and not task.is_spans]
    if scored:
        firsts = [
            (r.attempts[0].answer, r.gold_label)
            for r in scored
            if r.attempts and r.attempts[0].answer is not None
        ]
        report["final"] = reliability(
            [r.confidence for r in scored], [r.label == r.gold_label for r in scored]
        ).model_dump()
        report["first"] = reliability(
            [a.confidence for a, _ in firsts], [a.label == g for a, g in firsts]
        ).model_dump()
        stated = [
            (a.verbalised_confidence, a.label == g)
            for a, g in firsts
            if a.verbalised_confidence is not None
        ]
        if stated:
            report["stated"] = reliability(
                [c for c, _ in stated], [k for _, k in stated]
            ).model_dump()
    return report


class RunEstimate(BaseModel):
    """What a run would spend, from its real prompts, before any model is called."""

    records: int
    calls: int
    calls_per_record: float
    usage: Usage
    by_agent: dict[str, AgentUsage]
    cost_usd: float | None = None
    assumptions: dict[str, Any] = Field(default_factory=dict)


DRY_RATIONALE = (
    "The sentence states the property the standard asks about in plain words, so the "
    "answer follows directly from the text and the examples."
)


def _dry_reply(config: RunConfig, reprompt_rate: float) -> Callable[[list[Any]], str]:
    """Instant, valid answers; an attempt is unsure with probability `reprompt_rate` (by prompt hash)."""
    task = config.task
    answer: dict[str, Any] = (
        {name: "" for name in task.span_type_names}
        if task.is_spans
        else {"label": task.label_names[0]}
    )

    def reply(messages: list[Any]) -> str:
        prompt = "\n".join(str(m.content) for m in messages)
        draw = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return json.dumps(
            {**answer, "confidence": 0 if draw < reprompt_rate else 100, "rationale": DRY_RATIONALE}
        )

    return reply


def _dry_logprobs(
    config: RunConfig, reprompt_rate: float
) -> Callable[[list[Any]], dict[str, float]]:
    """Instant label log-probabilities: sure of the first label, or unsure with `reprompt_rate`."""
    labels = config.task.label_names

    def logprobs(messages: list[Any]) -> dict[str, float]:
        prompt = "\n".join(str(m.content) for m in messages)
        draw = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        top = 0.5 if draw < reprompt_rate else 0.95
        rest = (1 - top) / max(len(labels) - 1, 1)
        return {label: math.log(top if i == 0 else rest) for i, label in enumerate(labels)}

    return logprobs


def estimate(
    config: RunConfig, *, reprompt_rate: float | None = None, embedder: Embedder | None = None
) -> RunEstimate:
    """Dry run: the real graph and prompts, answered instantly by a model that costs nothing.

    Counts every call the method makes (calibration on the pool, rationales, first answers,
    re-prompts, rationales of re-prompted records) and estimates tokens as 1.3 per word of each
    rendered prompt and of a typical ~25-word reply. Each teacher attempt is assumed unsure with
    probability `reprompt_rate` (default: the method's re-prompt cap when it calibrates, else
    0.1). The student checker's feedback is one call per borderline case per batch; EvoKD's
    samples are not included.
    """
    from dualchecker.agents.scripted import ScriptedChatModel

    method = config.method
    if reprompt_rate is None:
        reprompt_rate = method.max_reprompt_rate if method.calibrate else 0.1
    reads_logprobs = (
        method.confidence == "token_probability"
        and not config.task.is_spans
        and config.backend.kind in ("local", "openai")
    )
    model = ScriptedChatModel(
        responder=_dry_reply(config, reprompt_rate),
        tokens_per_word=1.3,
        logprobs=_dry_logprobs(config, reprompt_rate) if reads_logprobs else None,
    )
    with tempfile.TemporaryDirectory(prefix="dualchecker-dry-") as tmp:
        dry = config.model_copy(
            update={
                "run": config.run.model_copy(update={"dir": Path(tmp), "llm_cache": False}),
                "method": method.model_copy(update={"student": False, "student_checker": False}),
            }
        )
        summary = Run(dry, llm=model, embedder=embedder, with_student=False).execute(progress=False)
    by_agent = dict(summary.by_agent)
    if method.student and method.student_checker and method.borderline_per_batch:
        batches = -(-summary.records // config.run.batch_size)
        feedback = batches * method.borderline_per_batch
        words = 1.3 * 120  # a rationale prompt of ~120 words, a ~25-word reply
        by_agent["student_checker"] = AgentUsage(
            calls=feedback,
            usage=Usage(input_tokens=int(feedback * words), output_tokens=int(feedback * 1.3 * 25)),
        )
    total = sum(by_agent.values(), AgentUsage())
    price = config.prices.get(config.backend.model or "")
    return RunEstimate(
        records=summary.records,
        calls=total.calls,
        usage=total.usage,
        calls_per_record=total.calls / summary.records if summary.records else 0.0,
        by_agent={name: u.priced(price) for name, u in by_agent.items()},
        cost_usd=price.cost(total.usage) if price else None,
        assumptions={
            "reprompt_rate": reprompt_rate,
            "tokens_per_word": 1.3,
            "max_reprompts": method.max_reprompts,
            "label_probabilities": reads_logprobs,
            "student_checker_calls": "one per borderline case per batch",
            "evokd_samples": "not included",
        },
    )


def format_estimate(est: RunEstimate) -> str:
    """The dry-run estimate as text: totals, one line per agent, then the assumptions."""
    lines = [
        f"dry run: {est.records} records  ~{est.calls} LLM calls ({est.calls_per_record:.2f}/record)  "
        f"~{est.usage.input_tokens} tokens in, ~{est.usage.output_tokens} out"
        + (f"  ~${est.cost_usd:.4f}" if est.cost_usd is not None else "")
    ]
    lines += [
        f"  {name}: {u.calls} calls, ~{u.usage.input_tokens}/{u.usage.output_tokens} tokens"
        for name, u in est.by_agent.items()
    ]
    lines.append("assumptions: " + json.dumps(est.assumptions))
    return "\n".join(lines)


@contextmanager
def _progress(
    enabled: bool, total: int, done: int, desc: str = "labelling"
) -> Iterator[Callable[[int], None]]:
    """A tqdm bar over records labelled (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    with progress_bar(total, desc, unit="rec", initial=done) as advance:
        yield advance


def _progress_hook(what: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
    """The graph's progress hook (`RunContext.progress`) of a run that shows progress."""
    return progress_bar(total, what, unit="rec")


def format_summary(summary: RunSummary) -> str:
    """The run summary as text for the terminal; lines for parts the run did not have are left out."""
    lines = [summary.note] if summary.note else []
    lines += [
        f"records {summary.records}  labelled {summary.labelled}  failed {summary.failed}  "
        f"re-prompted {summary.reprompted} ({summary.reprompt_rate:.0%}, "
        f"{summary.changed_by_reprompt} changed)",
        f"LLM calls {summary.llm_calls}  cache hits {summary.cache_hits}  tokens in/out "
        f"{summary.usage.input_tokens}/{summary.usage.output_tokens}  {summary.seconds:.1f}s"
        + (f"  ${summary.cost_usd:.4f}" if summary.cost_usd is not None else ""),
    ]
    lines += [
        f"  {name}: {u.calls} calls, {u.cache_hits} cache hits, tokens in/out "
        f"{u.usage.input_tokens}/{u.usage.output_tokens}"
        for name, u in summary.by_agent.items()
    ]
    if summary.teacher:
        t = summary.teacher
        lines.append(
            f"teacher F1 {t['f1']:.3f}  precision {t['precision']:.3f}  recall {t['recall']:.3f}"
        )
    if summary.reprompt_flips and summary.changed_by_reprompt:
        f = summary.reprompt_flips
        lines.append(
            f"re-prompts that changed a label: {f['wrong_to_right']} wrong→right, "
            f"{f['right_to_wrong']} right→wrong, {f['other']} other"
        )
    if summary.calibration:
        c = summary.calibration
        raw, cal = c["pool_raw"], c["pool_calibrated"]
        how = {"equal weights": "too few to fit: teacher and pool at equal weight, "}.get(
            c.get("form", "full"), f"{c.get('form', 'full')} fit, "
        )
        lines.append(
            f"calibration on {raw['n']} pool examples ({how}out-of-fold): accuracy "
            f"{raw['accuracy']:.3f} → {cal['accuracy']:.3f}, ECE {raw['ece']:.3f} → "
            f"{cal['ece']:.3f}, re-prompt below {c.get('reprompt_threshold', c['threshold']):.2f}"
        )
        effect = c.get("reprompt_effect")
        if effect:
            verdict = "off" if c.get("reprompt_threshold") == 0 else "kept"
            lines.append(
                f"re-prompts tried on {effect['tried']} unsure pool answers: "
                f"{effect['wrong_to_right']} wrong→right, {effect['right_to_wrong']} right→wrong "
                f"(harm p={effect['harm_p_value']:.2f}): re-prompting {verdict}"
            )
    final = (summary.confidence or {}).get("final")
    if final and final.get("auroc") is not None:
        lines.append(
            f"confidence vs correctness on labelled records: AUROC {final['auroc']:.3f}  "
            f"ECE {final['ece']:.3f}  ({summary.confidence['sources']})"
        )
    if summary.template_refinements:
        lines.append(
            f"student checker: {summary.template_refinements} demonstrations added to "
            "the teaching template"
        )
    lines += _contribution_lines(summary.contribution)
    lines += _student_lines(summary)
    lines += [f"{name}: {path}" for name, path in summary.outputs.items()]
    if "trace" in summary.outputs:
        lines.append(
            f"  open the trace in a browser, or `dualchecker trace {summary.run_dir} "
            "--record ID` for one record in the terminal"
        )
    return "\n".join(lines)


def _contribution_lines(c: TeacherContribution | None) -> list[str]:
    """The teacher's weight and the share of labels it changed against the pool model."""
    if c is None or not c.compared:
        return []
    weight = "" if c.teacher_weight is None else f"teacher weight {c.teacher_weight:.2f}  "
    line = (
        f"{weight}labels changed from the pool model's own: {c.changed}/{c.compared} "
        f"({c.changed_share:.0%})"
    )
    if c.pool_model_f1 is not None and c.final_f1 is not None:
        line += f"; labelling F1 {c.final_f1:.3f} against the pool model's {c.pool_model_f1:.3f}"
    return [line]


def _student_lines(summary: RunSummary) -> list[str]:
    """The final students: the run's product beside the pool-only and self-training students."""
    st = summary.student
    if not st:
        return []
    if not st["n_test"]:
        return ["final student: no held-out data to score it on"]

    def f1(name: str) -> str:
        value = st.get(name, {}).get("f1")
        return "–" if value is None else f"{value:.3f}"

    line = (
        f"final student F1 on {st['n_test']} held-out gold records: "
        f"{st.get('n_human', 0)} human + teacher labels {f1('teacher_labels')}"
    )
    for name, words in (
        ("pool_only", "human labels alone"),
        ("self_training", "self-training"),
        ("gold_labels", "every record's human label (ceiling)"),
    ):
        if name in st:
            line += f", {words} {f1(name)}"
    lines = [line + f"  ({st['left_out']} unlabelled or unsure records left out)"]
    if summary.comparison is not None:
        lines.append(plain_sentence(summary.comparison, st.get("n_human", 0)))
    return lines
