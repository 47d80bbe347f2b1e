"""Teacher quality on the shared data: does DualChecker's teacher beat plain prompting?

Every row runs through the real graph (student off) with the same embedded model, on the same
records, one after the other in one process, with the LLM cache off so seconds are real:
- zero-shot and static 5-shot: the label with the model's highest probability (no calibration);
- DualChecker at 0 and 5 shots: calibrated on a sample of the pool, neighbour vote, label-balanced
  demonstrations, contrastive re-prompts;
- DualChecker as first built (verbalised JSON confidence, explained nearest neighbours), on a
  subsample: the "before" of the speed comparison;
- a no-LLM reference: logistic regression on frozen MiniLM embeddings of the whole pool.

Columns: F1 with a 95% bootstrap interval over records, the paired difference with zero-shot,
AUROC and ECE of the token-probability and the stated (verbalised) confidence side by side,
re-prompt rate, re-prompt flips against gold, LLM calls and seconds per record, and the
model's prefill speed on these prompts with nothing cached. No "prefill limit" (a row's prompt
tokens at that speed): the usage llama.cpp reports counts every prompt token, also those it
serves from its prefix cache, so such a limit is no bound (rows ran below it).

    python benchmarks/teacher_quality.py --dataset claims --model qwen2.5-coder-0.5b --n 300

A long benchmark runs in parts. Every finished row (and the reference) is kept beside the table,
in `<out>/<tag>-rows/`, without its prompts, and is read back instead of rerun while the
benchmark's settings are the same; with `--workdir DIR` a stopped row resumes from its last
finished batch, its seconds and calls counting every process that worked on it:

    python benchmarks/teacher_quality.py --dataset cnc --model qwen2.5-coder-1.5b --n 200 \
        --rows zero,few --workdir runs/tq-cnc-1.5b      # today
    python benchmarks/teacher_quality.py ... --rows zero,few,dc0,dc5 --workdir runs/tq-cnc-1.5b
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dualchecker.adapters import CNC_SPANS, ENV_CLAIMS, cnc_spans, environmental_claims  # noqa: E402
from dualchecker.agents.aligner import normalise_text  # noqa: E402
from dualchecker.agents.backends import ChatBackend  # noqa: E402
from dualchecker.agents.calibration import reliability  # noqa: E402
from dualchecker.agents.embedders import SentenceTransformerEmbedder  # noqa: E402
from dualchecker.agents.local_llm import LocalLlamaChatModel, score_continuations  # noqa: E402
from dualchecker.agents.types import LabelledRecord, Record, Task, Usage  # noqa: E402
from dualchecker.data import DataSource  # noqa: E402
from dualchecker.evaluation import bootstrap_f1  # noqa: E402
from dualchecker.graph.config import RunConfig, RunSettings, method  # noqa: E402
from dualchecker.kept import (  # noqa: E402
    read_json,
    read_lines,
    with_text,
    without_text,
    write_json,
    write_lines,
)
from dualchecker.runner import Run  # noqa: E402

DATA = Path(
    os.environ.get("DUALCHECKER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def cnc(n: int, seed: int) -> tuple[Task, list[Record], list[Record]]:
    """Causal News Corpus spans: every dev sentence (185, all its relations' causes and effects)
    topped up to n from train; the rest of train is the human pool, less every text labelled
    (two dev sentences are also train sentences, under other ids)."""
    dev = cnc_spans(DATA, "dev", relations="all")
    train = cnc_spans(DATA, "train", relations="all")
    rng = random.Random(seed)
    extra = rng.sample(train, max(0, n - len(dev)))
    return CNC_SPANS, (dev + extra)[:n], without_texts(train, dev + extra)


def claims(n: int, seed: int) -> tuple[Task, list[Record], list[Record]]:
    """All of dev.jsonl (265) topped up from test.jsonl to n; train.jsonl is the human pool
    (less any text labelled: none today)."""
    dev = environmental_claims(DATA, "dev")
    test = environmental_claims(DATA, "test")
    extra = random.Random(seed).sample(test, max(0, n - len(dev)))
    return (
        ENV_CLAIMS,
        (dev + extra)[:n],
        without_texts(environmental_claims(DATA, "train"), dev + extra),
    )


def without_texts(pool: list[Record], taken: list[Record]) -> list[Record]:
    """The pool less every record sharing a (normalised) text with `taken`: de-duplicated by
    text, not id, as the run refuses a pool that shares texts with its inputs."""
    texts = {normalise_text(r.text) for r in taken}
    return [r for r in pool if normalise_text(r.text) not in texts]


def bootstrap(
    task: Task,
    records: list[LabelledRecord],
    *,
    reps: int = 1000,
    seed: int = 0,
    against: list[LabelledRecord] | None = None,
) -> tuple[float, float, float]:
    """F1 (or its paired difference with `against`) and its 95% percentile interval.

    Resamples per-record counts (`bootstrap_f1`) rather than rescoring every draw, which took
    minutes per row for spans; the same seed draws the same records, so intervals are unchanged."""
    return bootstrap_f1(task, records, against=against, reps=reps, seed=seed)


def prefill_speed(model: LocalLlamaChatModel, prompt: str, reps: int = 3) -> float:
    """Prompt tokens per second with nothing cached (the speed of one uncached label read)."""
    llama = model._loaded()  # noqa: SLF001
    rates = []
    for _ in range(reps):
        llama.n_tokens = 0
        started = time.perf_counter()
        scored = score_continuations(llama, prompt, [" yes"])
        rates.append(scored.evaluated_tokens / (time.perf_counter() - started))
    return float(np.median(rates))


def is_right(answer_label, answer_spans, r: LabelledRecord) -> bool:
    """Classification: the gold label; spans: exactly the gold set of (type, start, end)."""
    if r.gold_spans is not None:
        return {s.key() for s in answer_spans} == {s.key() for s in r.gold_spans}
    return answer_label == r.gold_label


def reliability_columns(labelled: list[LabelledRecord]) -> dict[str, float | None]:
    """AUROC/ECE of the final (token-probability) confidence and of the first stated number."""
    ok = [
        r
        for r in labelled
        if r.ok
        and (r.gold_label is not None or r.gold_spans is not None)
        and r.confidence is not None
    ]
    right = [is_right(r.label, r.spans, r) for r in ok]
    token = reliability([r.confidence for r in ok], right)
    stated = [
        (
            r.attempts[0].answer.verbalised_confidence,
            is_right(r.attempts[0].answer.label, r.attempts[0].answer.spans, r),
        )
        for r in ok
        if r.attempts
        and r.attempts[0].answer
        and r.attempts[0].answer.verbalised_confidence is not None
    ]
    verbal = reliability([s for s, _ in stated], [c for _, c in stated]) if stated else None
    return {
        "auroc_token": token.auroc,
        "ece_token": token.ece,
        "auroc_verbal": verbal.auroc if verbal else None,
        "ece_verbal": verbal.ece if verbal else None,
    }


def flips(labelled: list[LabelledRecord]) -> tuple[int, int]:
    """Re-prompts that changed the label: wrong→right and right→wrong against gold."""
    good = bad = 0
    for r in labelled:
        if r.before is None or (r.gold_label is None and r.gold_spans is None):
            continue
        before = is_right(r.before.label, r.before.spans, r)
        after = is_right(r.label, r.spans, r)
        good += not before and after
        bad += before and not after
    return good, bad


def run_row(
    name: str,
    preset: str,
    task: Task,
    inputs: list[Record],
    pool: list[Record],
    backend: ChatBackend,
    embedder,
    workdir: Path,
    **overrides,
) -> dict:
    """One row through the real graph in `workdir/name`, resuming what an earlier process left."""
    config = RunConfig(
        task=task,
        inputs=DataSource(path=workdir / "unused.jsonl"),
        method=method(preset, student=False, student_checker=False, **overrides),
        run=RunSettings(dir=workdir / name, batch_size=8, max_concurrency=1, llm_cache=False),
    )
    started = time.perf_counter()
    run = Run(
        config, llm=backend.fresh(), embedder=embedder, inputs=inputs, pool=pool, with_student=False
    )
    summary = run.execute(progress=True)
    by_id = {r.id: r for r in run.store.all()}
    events = [
        json.loads(line) for line in (workdir / name / "events.jsonl").read_text().splitlines()
    ]
    calibration = next(
        (
            e["data"]["calibration"]
            for e in events
            if e["agent"] == "calibration" and e["kind"] == "fitted"
        ),
        None,
    )
    return {
        "name": name,
        "labelled": [by_id[r.id] for r in inputs],
        # this process's time and what stopped processes spent on the row before it resumed;
        # calls and tokens from the run's own ledger, which counts every process
        "seconds": time.perf_counter() - started + run.seconds_before,
        "calls": summary.llm_calls,
        "usage": summary.usage,
        "calibration": calibration,
    }


class KeptRows:
    """Finished rows kept beside the table, so a long benchmark can be run in parts.

    A row is read back only while the settings that shape it (dataset, model, records, seed,
    calibration size, and the row's own preset and overrides) are the ones it was measured with.
    Prompts are dropped: the table does not need them, and they are most of a row's size. So is
    the data's own text (the record, its quotes, the model's raw replies and rationales, which
    repeat it): the kept files sit in the repository, the data does not. Texts come back from
    `records` on reading, quotes from their offsets (`dualchecker.kept`). Rows are kept as
    gzip-compressed JSON; a plain ``.json`` row kept before is read too.
    """

    def __init__(self, folder: Path, settings: dict, records: Iterable[Record] = ()) -> None:
        self.folder, self.settings = folder, settings
        self.texts = {r.id: r.text for r in records}

    def _path(self, key: str) -> Path:
        path = self.folder / f"{key}.json.gz"
        plain = self.folder / f"{key}.json"
        return plain if plain.is_file() and not path.is_file() else path

    def load(self, key: str, shape: dict) -> dict | None:
        path = self._path(key)
        if not path.is_file():
            return None
        kept = read_json(path)
        if kept["settings"] != {**self.settings, **shape}:
            print(f"   {path} was measured with other settings: running it again", file=sys.stderr)
            return None
        return {
            **kept["result"],
            "labelled": [self.record(r) for r in kept["result"]["labelled"]],
            "usage": Usage.model_validate(kept["result"]["usage"] or {}),
        }

    def save(self, key: str, shape: dict, result: dict) -> None:
        body = {
            "settings": {**self.settings, **shape},
            "result": {
                **{k: v for k, v in result.items() if k not in ("labelled", "usage")},
                "labelled": [without_text(r) for r in result["labelled"]],
                "usage": result["usage"].model_dump(mode="json") if "usage" in result else None,
            },
        }
        self._path(key).unlink(missing_ok=True)  # a plain row kept before gives way
        write_json(self.folder / f"{key}.json.gz", body)

    def record(self, kept: dict) -> LabelledRecord:
        """One kept record, its text and quotes restored (blank when `records` lacks it)."""
        return with_text(kept, self.texts if kept["id"] in self.texts else None)


def no_llm_reference(
    task: Task, inputs: list[Record], pool: list[Record], embedder
) -> list[LabelledRecord]:
    """Logistic regression on frozen MiniLM embeddings of the whole human pool (classification);
    for spans, MiniLM fine-tuned as a BIO tagger on 600 pool sentences."""
    if task.is_spans:
        return span_tagger_reference(task, inputs, pool)
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(
        embedder.encode([r.text for r in pool]), [r.label for r in pool]
    )
    proba = clf.predict_proba(embedder.encode([r.text for r in inputs]))
    out = []
    for record, p in zip(inputs, proba):
        best = int(np.argmax(p))
        out.append(
            LabelledRecord(
                id=record.id,
                text=record.text,
                label=str(clf.classes_[best]),
                confidence=float(p[best]),
                gold_label=record.label,
            )
        )
    return out


def span_tagger_reference(
    task: Task, inputs: list[Record], pool: list[Record], n_train: int = 600, epochs: int = 3
) -> list[LabelledRecord]:
    from dualchecker.agents.student import gold_examples
    from dualchecker.agents.types import Span
    from dualchecker.training.config import StudentConfig
    from dualchecker.training.trainer import StudentTrainer

    config = StudentConfig(
        task="spans",
        span_types=task.span_type_names,
        final_epochs=epochs,
        learning_rate=1e-4,
        seed=0,
    )
    trainer = StudentTrainer(config)
    trainer.fit(gold_examples(task, random.Random(0).sample(pool, min(n_train, len(pool)))), epochs)
    out = []
    for record, prediction in zip(inputs, trainer.predict([r.text for r in inputs])):
        spans = [
            Span(type=s.type, start=s.start, end=s.end, text=record.text[s.start : s.end])
            for s in prediction.spans
        ]
        out.append(
            LabelledRecord(
                id=record.id,
                text=record.text,
                spans=spans,
                confidence=prediction.confidence,
                gold_spans=record.spans,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="claims", choices=["claims", "cnc"])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--before-n", type=int, default=30, help="records for the 'before' row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", default="zero,few,dc0,dc5,before")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument(
        "--ref-n",
        type=int,
        default=100_000,
        help="spans: pool sentences for the reference tagger (default: the whole pool, as the "
        "tagger inside DualChecker sees it)",
    )
    parser.add_argument(
        "--calibration-size",
        type=int,
        help="pool examples DualChecker calibrates on (default: the method's, 360 for claims, "
        "120 for spans)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the rows' runs live, so that a stopped row resumes (default: a temporary "
        "folder, gone at the end)",
    )
    parser.add_argument(
        "--rerun", action="store_true", help="run every row again, even one kept from before"
    )
    args = parser.parse_args()

    task, inputs, pool = (claims if args.dataset == "claims" else cnc)(args.n, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"teacher_quality-{args.dataset}-{args.model}"
    kept = KeptRows(
        out / f"{tag}-rows",
        dict(dataset=args.dataset, model=args.model, n=args.n, seed=args.seed),
        inputs,
    )
    model = LocalLlamaChatModel.from_spec(args.model, n_threads=args.threads)
    backend = ChatBackend(model, structured="response_format", name=args.model)
    embedder = SentenceTransformerEmbedder()
    calibration_size = args.calibration_size or method("dualchecker").calibration_examples(task)
    dc = dict(verbalise=True, calibration_size=calibration_size)
    rows = {
        "zero": (
            "zero-shot",
            "zero-shot",
            inputs,
            dict(confidence="token_probability", verbalise=True),
        ),
        "few": (
            "few-shot (5, static)",
            "few-shot",
            inputs,
            dict(n_shot=5, confidence="token_probability", verbalise=True),
        ),
        "dc0": ("DualChecker 0-shot", "dualchecker", inputs, dict(n_shot=0, **dc)),
        "dc5": ("DualChecker 5-shot", "dualchecker", inputs, dict(n_shot=5, **dc)),
        "before": (
            "DualChecker 5-shot as first built (verbalised)",
            "dualchecker-verbalised",
            inputs[: args.before_n],
            dict(n_shot=5),
        ),
    }
    ref_shape = {"row": "reference", "ref_n": args.ref_n}
    ref_kept = None if args.rerun else kept.load("reference", ref_shape)
    if ref_kept is None:
        ref = (
            span_tagger_reference(task, inputs, pool, n_train=args.ref_n)
            if task.is_spans
            else no_llm_reference(task, inputs, pool, embedder)
        )
        kept.save("reference", ref_shape, {"labelled": ref})
    else:
        ref = ref_kept["labelled"]
    rate_shape = {"row": "prefill"}
    rate = (kept.load("prefill", rate_shape) or {}).get("rate") if not args.rerun else None
    results, per_record = [], {}
    with tempfile.TemporaryDirectory(prefix="tq-") as tmp:
        workdir = args.workdir or Path(tmp)
        for key in args.rows.split(","):
            name, preset, rows_inputs, overrides = rows[key]
            shape = {"row": key, "preset": preset, "records": len(rows_inputs), **overrides}
            result = None if args.rerun else kept.load(key, shape)
            if result is None:
                print(f"== {name} ({len(rows_inputs)} records)", file=sys.stderr, flush=True)
                result = run_row(
                    key, preset, task, rows_inputs, pool, backend, embedder, workdir, **overrides
                )
                if rate is None:  # the prefill speed: this row's first prompt, nothing cached
                    first = result["labelled"][0].attempts[0].messages
                    rate = prefill_speed(ChatBackend(model).model, _prompt_text(model, first))
                    kept.save("prefill", rate_shape, {"labelled": [], "rate": rate})
                kept.save(key, shape, result)
                _write_partial(out / f"{tag}.partial.jsonl.gz", name, result)
            else:
                print(f"== {name}: kept from an earlier run", file=sys.stderr, flush=True)
            results.append((name, result))
            per_record[key] = result["labelled"]
            # the table so far, rewritten after every row: a stopped run keeps what it measured
            table = _table(task, results, ref, per_record.get("zero"), rate, args, len(pool))
            (out / f"{tag}.md").write_text(table)
    print(table)


def _judged(cal: dict) -> str:
    """What re-prompting did on the pool sample, and so whether the run re-prompted."""
    effect = cal.get("reprompt_effect")
    if not effect:
        return ""
    verdict = "kept" if cal["reprompt_threshold"] > 0 else "off"
    return (
        f"; pool re-prompts {effect['tried']}, flips ✓/✗ {effect['wrong_to_right']}/"
        f"{effect['right_to_wrong']} (harm p={effect['harm_p_value']:.2f}): {verdict}"
    )


def _prompt_text(model: LocalLlamaChatModel, messages: list[dict]) -> str:
    from langchain_core.messages import convert_to_messages

    return model._format_prompt(model._loaded(), convert_to_messages(messages)) + "Answer:"  # noqa: SLF001


def _write_partial(path: Path, name: str, result: dict) -> None:
    """Each record's answer, one JSON line, appended to the benchmark's per-record file."""
    lines = read_lines(path) if path.is_file() else []
    for r in result["labelled"]:
        lines.append(
            json.dumps(
                {
                    "row": name,
                    "id": r.id,
                    "gold": r.gold_label,
                    "label": r.label,
                    "confidence": r.confidence,
                    "reprompted": r.reprompted,
                    "before": r.before.label if r.before else None,
                    "probabilities": r.attempts[-1].answer.probabilities
                    if r.attempts and r.attempts[-1].answer
                    else None,
                    "spans": [s.key() for s in r.spans],
                }
            )
        )
    write_lines(path, lines)


def _table(
    task: Task,
    results: list,
    ref: list[LabelledRecord],
    zero: list[LabelledRecord] | None,
    rate: float | None,
    args,
    pool_size: int,
) -> str:
    lines = [
        f"Teacher quality, {args.dataset}, {args.model}, {args.n} records (seed {args.seed}), "
        f"pool {pool_size}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{time.strftime('%Y-%m-%d')}.",
        f"Prefill speed of the model on these prompts, nothing cached: {rate:.0f} tokens/s."
        if rate
        else "",
        "",
        "| row | n | teacher F1 [95% CI] | vs zero-shot [95% CI] | vs no-LLM reference [95% CI] | "
        "AUROC token | ECE token | AUROC stated | ECE stated | re-prompted | flips ✓/✗ | "
        "calls/rec | s/rec |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results:
        labelled = result["labelled"]
        f1, low, high = bootstrap(task, labelled)
        paired = ""
        if zero is not None and len(labelled) == len(zero) and name != "zero-shot":
            d, dl, dh = bootstrap(task, labelled, against=zero)
            paired = f"{d:+.3f} [{dl:+.3f}, {dh:+.3f}]"
        versus_ref = "–"
        if len(labelled) == len(ref):  # the same records, record for record
            d, dl, dh = bootstrap(task, labelled, against=ref)
            versus_ref = f"{d:+.3f} [{dl:+.3f}, {dh:+.3f}]"
        rel = reliability_columns(labelled)
        good, bad = flips(labelled)
        n = len(labelled)
        reprompted = sum(r.reprompted for r in labelled)
        fmt = lambda v: "–" if v is None else f"{v:.3f}"
        lines.append(
            f"| {name} | {n} | {f1:.3f} [{low:.3f}, {high:.3f}] | {paired or '–'} | {versus_ref} | "
            f"{fmt(rel['auroc_token'])} | {fmt(rel['ece_token'])} | {fmt(rel['auroc_verbal'])} | "
            f"{fmt(rel['ece_verbal'])} | {reprompted / n:.0%} | {good}/{bad} | "
            f"{result['calls'] / n:.2f} | {result['seconds'] / n:.2f} |"
        )
        cal = result.get("calibration")
        if cal and "pool_f1" in cal:  # spans: what teacher, tagger and the two together scored
            f = cal["pool_f1"]
            lines.append(
                f"|  ↳ calibration on {cal['pool_raw']['n']} pool examples | | pool span F1: "
                f"teacher {f['teacher']:.3f}, tagger {f['tagger']:.3f}, combined "
                f"{f['combined']:.3f} (CV) | keep ≥ {cal['keep']:.2f}, threshold "
                f"{cal['threshold']:.2f}, tagger weight {cal['neighbour_weight']:.2f} | | "
                f"{fmt(cal['pool_calibrated']['auroc'])} | {fmt(cal['pool_calibrated']['ece'])} "
                "| | | | | | |"
            )
        elif cal:
            lines.append(
                f"|  ↳ calibration on {cal['pool_raw']['n']} pool examples | | "
                f"raw acc {cal['pool_raw']['accuracy']:.3f} → calibrated "
                f"{cal['pool_calibrated']['accuracy']:.3f} | threshold {cal['threshold']:.2f}, "
                f"neighbour weight {cal['neighbour_weight'] or 0:.2f}{_judged(cal)} | | "
                f"{fmt(cal['pool_calibrated']['auroc'])} | {fmt(cal['pool_calibrated']['ece'])} "
                "| | | | | | |"
            )
    f1, low, high = bootstrap(task, ref)
    versus_zero = "–"
    if zero is not None:
        d, dl, dh = bootstrap(task, ref, against=zero)
        versus_zero = f"{d:+.3f} [{dl:+.3f}, {dh:+.3f}]"
    rel = reliability_columns(ref)
    name = (
        f"no LLM: MiniLM BIO tagger fine-tuned on {min(args.ref_n, pool_size)} pool sentences"
        if task.is_spans
        else "no LLM: logistic regression on MiniLM, whole pool"
    )
    fmt = lambda v: "–" if v is None else f"{v:.3f}"
    lines.append(
        f"| {name} | {len(ref)} | "
        f"{f1:.3f} [{low:.3f}, {high:.3f}] | {versus_zero} | – | "
        f"{fmt(rel['auroc_token'])} | {fmt(rel['ece_token'])} | – | – | – | – | 0 | – |"
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
