"""Student fine-tuned on human labels: dev F1 and training throughput on the shared data.

Environmental claims (binary, positive-class F1) and Causal News Corpus subtask 2 (cause and
effect spans, exact-match span F1 and word-level token F1; one example per sentence with
all its relations' spans, see ``dualchecker.adapters.cnc_spans``). This is the "student on
gold labels" reference point that students on teacher labels are compared with.

    python benchmarks/student.py --train-size 600 --epochs 3
    python benchmarks/student.py --tasks cnc --train-size 0 --epochs 5 --parallel
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
from datetime import date
from pathlib import Path

import torch

from dualchecker.adapters import CNC_SPANS, ENV_CLAIMS, cnc_spans, environmental_claims
from dualchecker.agents.student import gold_examples
from dualchecker.training import EvalReport, StudentConfig, StudentExample, train_and_evaluate

logger = logging.getLogger("benchmarks.student")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
TASKS = ("claims", "cnc")


def subsample(examples: list[StudentExample], size: int, seed: int) -> list[StudentExample]:
    """``size`` examples drawn with ``seed`` (all of them when size is 0 or too large)."""
    if size <= 0 or size >= len(examples):
        return examples
    return random.Random(seed).sample(examples, size)


def load_task(task: str, data_dir: Path) -> tuple[list[StudentExample], list[StudentExample]]:
    """(train, dev) examples with gold labels."""
    if task == "claims":
        return tuple(
            gold_examples(ENV_CLAIMS, environmental_claims(data_dir, split))
            for split in ("train", "dev")
        )
    return tuple(
        gold_examples(CNC_SPANS, cnc_spans(data_dir, split, relations="all"))
        for split in ("train", "dev")
    )


def student_config(task: str, args: argparse.Namespace) -> StudentConfig:
    shared = dict(
        learning_rate=args.lr,
        train_batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        final_epochs=args.epochs,
        device=args.device,
    )
    if args.model:
        shared["model"] = args.model
    if task == "claims":
        return StudentConfig(task="classification", num_labels=2, **shared)
    return StudentConfig(task="spans", span_types=CNC_SPANS.span_type_names, **shared)


def row(task: str, report: EvalReport) -> dict:
    s = report.scores
    return {
        "task": task,
        "n_train": report.n_train,
        "n_dev": report.n_test,
        "f1": round(report.f1, 4),
        "precision": round(s["precision"], 4),
        "recall": round(s["recall"], 4),
        "token_f1": round(s["token_f1"], 4) if "token_f1" in s else None,
        "train_samples_per_s": round(report.train_samples_per_s, 2),
        "train_s": round(report.train_seconds, 1),
        "predict_s": round(report.predict_seconds, 1),
    }


def run_sequential(jobs: dict[str, tuple]) -> dict[str, EvalReport]:
    return {
        task: train_and_evaluate(config, train, dev) for task, (config, train, dev) in jobs.items()
    }


def run_parallel(jobs: dict[str, tuple], timeout_s: float) -> dict[str, EvalReport]:
    """One Ray task per data set, one CPU each."""
    from dualchecker.training.actor import FinetuneJob, ensure_ray, run_finetunes_parallel

    ensure_ray()
    finetunes = [
        FinetuneJob(name=t, config=c, train=tr, test=dev) for t, (c, tr, dev) in jobs.items()
    ]
    return dict(zip(jobs, run_finetunes_parallel(finetunes, timeout_s=timeout_s)))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="folder holding the shared data sets"
    )
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument(
        "--train-size", type=int, default=600, help="training examples per task (0 = all)"
    )
    p.add_argument("--dev-size", type=int, default=0, help="dev examples per task (0 = all)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--model", default=None, help="HF id or folder (default: packaged all-MiniLM-L6-v2)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--parallel", action="store_true", help="run the tasks side by side as Ray tasks"
    )
    p.add_argument("--timeout-s", type=float, default=3600, help="overall limit with --parallel")
    p.add_argument("--json-out", type=Path, default=None, help="also write the results here")
    return p.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("dualchecker.training.trainer").setLevel(logging.DEBUG)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = parse_args()
    jobs = {}
    for task in args.tasks:
        train, dev = load_task(task, args.data_dir)
        jobs[task] = (
            student_config(task, args),
            subsample(train, args.train_size, args.seed),
            subsample(dev, args.dev_size, args.seed),
        )
    reports = run_parallel(jobs, args.timeout_s) if args.parallel else run_sequential(jobs)
    rows = [row(task, report) for task, report in reports.items()]
    meta = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "cuda": torch.cuda.is_available(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    print(json.dumps(meta))
    for r in rows:
        print(json.dumps(r))
    if args.json_out:
        args.json_out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
