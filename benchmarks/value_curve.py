"""Learning curves where users are: a small human pool, a large unlabelled set.

Does the LLM add anything over training on the user's own labels? For each dataset, human pool
size (stratified, nested) and seed, one DualChecker run labels the unlabelled set with the pool
as its only human labels (the unlabelled records' gold is removed before the run and read only
to score), and its final students (pool + teacher labels, pool alone, self-training) are scored
on the protocol's untouched records (`dualchecker.protocol`). Beside them, on the same records:
logistic regression on the pool's embeddings (threshold tuned on the pool), the zero-shot
teacher (its raw token probabilities, uncalibrated), and the ceiling (pool + the unlabelled
set's gold). A cell keeps its per-record answers (ids, label indices or span offsets; no text)
in `benchmarks/results/value_curve/DATASET/`; `value_curve_report.py` draws tables and plots
from them with no model run. Cells resume: a finished cell is not run again, a killed one goes
on from its run directory, and the LLM cache serves the teacher's answers to every size and
seed (the 0-shot prompt does not depend on the pool).

    python benchmarks/value_curve.py --dataset environmental_claims --sizes 32 128 512 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from dualchecker.agents.aligner import ExampleIndex
from dualchecker.agents.backends import BackendConfig
from dualchecker.agents.embedders import RememberingEmbedder, SentenceTransformerEmbedder
from dualchecker.agents.pool_model import PoolClassifier
from dualchecker.agents.student import gold_examples, scored_predictions, teacher_examples
from dualchecker.agents.types import LabelledRecord, Record, Task
from dualchecker.data import DataSource, atomic_write_text, read_labels_jsonl
from dualchecker.distill import student_config, train_students
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.kept import write_json
from dualchecker.protocol import nested_pool, splits, unlabelled_and_candidates
from dualchecker.runner import Run

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "value_curve"
# Run directories and the LLM cache (regenerable, never committed); kept outside the checkout
# when DUALCHECKER_BENCH_RUNS says where, so a fresh clone can reuse a machine's cache.
RUNS = Path(os.environ.get("DUALCHECKER_BENCH_RUNS", ROOT.parent / "runs")) / "value_curve"
UNLABELLED = 1000
"""Records to label per cell (CNC has ~800 left after its pools and the untouched split)."""
EVALUATION: int | None = None
"""Score on only the first N untouched records (smoke runs); None: all of them."""
# The same student for every row: MiniLM, 3 epochs at 1e-4 (docs/student.md), 128 tokens.
STUDENT = StudentSettings(final_epochs=3, learning_rate=1e-4, max_length=128, gold_reference=False)
ZERO_SHOT_TEACHER = dict(teacher_checker=False, judge_reprompts=False, max_reprompts=0)
METHODS = {
    # 0 shots, re-prompts and template refinement off: the teacher's answer to a record does not
    # depend on the pool, so one LLM pass serves every size and seed
    "dualchecker-0shot": dict(n_shot=0, student=False, student_checker=False, **ZERO_SHOT_TEACHER),
}


def answer_code(task: Task, label: str | None, spans: list | None):
    """An answer with no text: a label index (-1 for none), or [type, start, end] per span."""
    if task.is_spans:
        return [[s.type, s.start, s.end] for s in spans or []]
    return task.label_names.index(label) if label in task.label_names else -1


def said(task: Task, record: LabelledRecord | None):
    """The code of an answer (-1, or no spans, when there is none)."""
    if record is None or not record.ok:
        return answer_code(task, None, None)
    return answer_code(task, record.label, record.spans)


def truth(task: Task, record: Record):
    """The code of a record's gold."""
    return answer_code(task, record.label, record.spans)


class CellData:
    """One cell's records: the pool, the unlabelled set (gold kept aside) and the evaluation set."""

    def __init__(
        self, dataset: str, data_dir: Path, size: int, seed: int, split: str = "untouched"
    ):
        cut = splits(dataset, data_dir)
        self.task = cut.task
        self.unlabelled, candidates = unlabelled_and_candidates(cut.rest, UNLABELLED)
        self.pool = nested_pool(cut.task, candidates, size, seed)
        self.evaluation = cut.untouched[:EVALUATION]
        if split == "development":  # choosing settings: label the development records instead
            self.unlabelled, self.evaluation = cut.development[:EVALUATION], []
        self.hidden = [r.model_copy(update={"label": None, "spans": None}) for r in self.unlabelled]
        self.options = chosen(dataset) if split == "untouched" else {}


def chosen(dataset: str) -> dict:
    """The calibration form and decision rule chosen on the development split
    (`value_curve_choose.py`), or none yet."""
    path = RESULTS / dataset / "choice.json"
    if not path.exists():
        return {}
    form, decision = json.loads(path.read_text())["chosen"].split("/")
    return {"calibration_form": form, "decision": decision}


def run_config(
    data: CellData, name: str, size: int, seed: int, backend: BackendConfig
) -> RunConfig:
    """The cell's DualChecker run: the pool its only human labels, scored on untouched records."""
    run_dir = RUNS / data.task.name.replace(" ", "_") / f"{name}__pool{size}__seed{seed}"
    eval_path = run_dir / "evaluation.jsonl"
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(eval_path, "".join(r.model_dump_json() + "\n" for r in data.evaluation))
    return RunConfig(
        task=data.task,
        inputs=DataSource(path=Path("-")),
        method=method("dualchecker", **{**METHODS[name], **data.options}),
        backend=backend,
        student=STUDENT.model_copy(update={"eval": DataSource(path=eval_path)}),
        run=RunSettings(
            dir=run_dir,
            batch_size=100,
            max_concurrency=1,
            seed=seed,
            llm_cache_path=RUNS / f"llm_cache-{backend.model}.sqlite",
        ),
    )


def label_only(
    data: CellData, name: str, size: int, seed: int, backend, embedder, tag: str = "", **overrides
) -> list[LabelledRecord]:
    """The cell's labels without any student (warming the LLM cache, choosing settings on the
    development split); the gold put back beside each answer for scoring."""
    config = run_config(data, name, size, seed, backend)
    run_dir = Path(config.run.dir)
    config = config.model_copy(
        update={
            "method": method("dualchecker", **{**METHODS[name], **overrides}),
            "student": STUDENT.model_copy(update={"final": False}),
            "run": config.run.model_copy(
                update={"dir": run_dir.parent / "labels" / f"{run_dir.name}{tag}"}
            ),
        }
    )
    run = Run(config, embedder=embedder, inputs=data.hidden, pool=data.pool, with_student=False)
    run.execute(progress=True)
    gold = {r.id: r for r in data.unlabelled}
    return [restore_gold(r, gold[r.id]) for r in run.store.all()]


def extra_students(data: CellData, labelled: list[LabelledRecord], seed: int) -> dict:
    """The rows the run does not train: the ceiling and the zero-shot teacher's student."""
    task = data.task
    pool = gold_examples(task, data.pool)
    raw = [zero_shot_answer(task, r) for r in labelled]
    zero_shot, _ = teacher_examples(task, [r for r in raw if r.ok], weighting="confidence")
    jobs = {"ceiling": pool + gold_examples(task, data.unlabelled), "zero_shot": pool + zero_shot}
    config = student_config(task, STUDENT, seed)
    test = gold_examples(task, data.evaluation)
    reports = train_students(task, config, STUDENT, jobs, test, {})
    return {
        name: scored_predictions(task, data.evaluation, report.predictions)
        for name, report in zip(jobs, reports)
    }


def zero_shot_answer(task: Task, record: LabelledRecord) -> LabelledRecord:
    """The teacher's own first answer, before calibration and the pool's say."""
    first = record.attempts[0].answer if record.attempts else None
    if first is None:
        return record.model_copy(update={"error": "no answer"})
    if task.is_spans:
        spans = first.raw_spans if first.raw_spans is not None else first.spans
        return record.model_copy(update={"spans": spans, "confidence": first.confidence})
    raw = first.raw_probabilities or first.probabilities or {first.label: first.confidence}
    label = max(raw, key=raw.__getitem__)
    return record.model_copy(update={"label": label, "confidence": raw[label]})


def pool_model_rows(data: CellData, index: ExampleIndex) -> tuple[list, list]:
    """Logistic regression on the pool's embeddings: its labels of the unlabelled set and its
    answers on the evaluation records (it is its own student)."""
    classifier = PoolClassifier(data.task, index)
    return classifier.answer(data.hidden), classifier.answer(data.evaluation)


def run_cell(
    dataset: str, data_dir: Path, name: str, size: int, seed: int, backend, embedder
) -> Path:
    """One cell end to end; returns its kept file (skipped when it exists)."""
    out = RESULTS / dataset / f"{name}__pool{size}__seed{seed}.json.gz"
    if out.exists():
        return out
    started = time.perf_counter()
    data = CellData(dataset, data_dir, size, seed)
    config = run_config(data, name, size, seed, backend)
    run = Run(config, embedder=embedder, inputs=data.hidden, pool=data.pool)
    summary = run.execute(progress=True)
    gold = {r.id: r for r in data.unlabelled}
    labelled = [restore_gold(r, gold[r.id]) for r in run.store.all()]
    students = {
        key: read_labels_jsonl(Path(value["predictions"]))
        for key, value in (summary.student or {}).items()
        if isinstance(value, dict) and value.get("predictions")
    }
    students.update(extra_students(data, labelled, seed))
    index = run.ctx.aligner.index or ExampleIndex(data.pool, embedder)
    lr_labels, lr_eval = pool_model_rows(data, index)
    students["pool_lr"] = lr_eval
    write_cell(out, data, summary, labelled, lr_labels, students, time.perf_counter() - started)
    return out


def restore_gold(record: LabelledRecord, truth: Record) -> LabelledRecord:
    """Put the unlabelled record's gold back beside the run's answer, for scoring only."""
    return record.model_copy(update={"gold_label": truth.label, "gold_spans": truth.spans})


def write_cell(out, data, summary, labelled, lr_labels, students, seconds) -> None:
    """The cell's kept outputs: answers in the order of the ids file, no text."""
    task = data.task
    order = {r.id: i for i, r in enumerate(data.unlabelled)}
    by_id = {r.id: r for r in labelled}
    final = [by_id.get(r.id) for r in data.unlabelled]
    raw = [zero_shot_answer(task, r) if r is not None else None for r in final]
    code = lambda rows: [said(task, r) for r in rows]
    lr_sorted = sorted(lr_labels, key=lambda r: order[r.id])
    contribution = summary.contribution
    body = {
        "pool_ids": [r.id for r in data.pool],
        "method": summary.method,
        "options": data.options,
        "labels": {"dualchecker": code(final), "zero_shot": code(raw), "pool_lr": code(lr_sorted)},
        "confidence": [round(r.confidence or 0.0, 4) if r is not None else None for r in final],
        "students": {k: [said(task, r) for r in v] for k, v in students.items()},
        "teacher_weight": contribution.teacher_weight if contribution else None,
        "calibration_threshold": (summary.calibration or {}).get("threshold"),
        "llm_calls": summary.llm_calls,
        "cache_hits": summary.cache_hits,
        "seconds": round(seconds, 1),
        "seconds_by_phase": summary.seconds_by_phase,
    }
    write_json(out, body)


def write_ids(dataset: str, data_dir: Path) -> None:
    """The unlabelled and evaluation ids with their gold, once per dataset (no text)."""
    data = CellData(dataset, data_dir, 32, 0)
    path = RESULTS / dataset / "ids.json.gz"
    body = {
        "task": data.task.model_dump(mode="json"),
        "unlabelled": [[r.id, truth(data.task, r)] for r in data.unlabelled],
        "evaluation": [[r.id, truth(data.task, r)] for r in data.evaluation],
    }
    write_json(path, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 128, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--methods", nargs="+", default=["dualchecker-0shot"])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (pinned)")
    parser.add_argument("--smoke", type=int, help="label and score only N records, kept apart")
    parser.add_argument(
        "--label-only", action="store_true", help="labels only, no student (fills the LLM cache)"
    )
    parser.add_argument("--split", default="untouched", choices=["untouched", "development"])
    args = parser.parse_args()
    # Ray starts task workers at niceness 15: beside a llama.cpp process they would starve
    os.environ.setdefault("RAY_worker_niceness", "0")
    if args.smoke:
        global RESULTS, RUNS, UNLABELLED, EVALUATION
        RESULTS, RUNS = RESULTS / "smoke", RUNS / "smoke"
        UNLABELLED = EVALUATION = args.smoke
    if not args.label_only:
        write_ids(args.dataset, args.data_dir)
    backend = BackendConfig(kind="local", model=args.model, params={"n_threads": args.threads})
    embedder = RememberingEmbedder(SentenceTransformerEmbedder())
    for name in args.methods:
        for seed in args.seeds:
            for size in args.sizes:
                if args.label_only:
                    data = CellData(args.dataset, args.data_dir, size, seed, args.split)
                    label_only(data, name, size, seed, backend, embedder, tag=f"-{args.split}")
                    print(
                        f"{args.dataset} {args.split} pool {size} seed {seed}: labelled", flush=True
                    )
                    continue
                path = run_cell(args.dataset, args.data_dir, name, size, seed, backend, embedder)
                print(f"{args.dataset} {name} pool {size} seed {seed}: {path}", flush=True)


if __name__ == "__main__":
    main()
