"""Seconds per record of the local model started under a brief load, against one started idle.

The embedded model runs llama.cpp on the cores other processes leave free. Chosen once, when the
model loads, a brief load at that moment kept a run on one thread for hours. This labels the same
records three times, one run after the other, each with a freshly loaded model (zero-shot, one
call per record):

- ``idle``: started on an idle machine;
- ``load, following``: started while busy-loop processes hold all cores but one for ``--load-s``
  seconds; the threads follow the free cores between calls (the default, every
  ``--follow-s`` seconds);
- ``load, chosen at load``: the same brief load, threads chosen once (``follow_cores_s: 0``, the
  behaviour before).

    python benchmarks/threads.py --records 60 --out benchmarks/results/threads.json
    python benchmarks/threads.py --records 3 --load-s 5 --follow-s 2   # a quick check
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from dualchecker.adapters import load_dataset
from dualchecker.agents.backends import BackendConfig
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.data import DataSource
from dualchecker.events import read_events
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run

ROOT = Path(__file__).resolve().parents[1]
BUSY = "while True: pass"


class ThreadLog(logging.Handler):
    """The thread counts the local model logs: at load, and each change after it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at_load: int | None = None
        self.changes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if found := re.search(r"threads=(\d+)\)", message):
            self.at_load = int(found.group(1))
        elif found := re.search(r"threads (\d+) -> (\d+)", message):
            self.changes.append(f"{found.group(1)}->{found.group(2)}")


def brief_load(processes: int, seconds: float) -> threading.Thread:
    """Busy-loop processes for `seconds`, then gone; returns the thread that ends them."""
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(processes)]

    def end() -> None:
        time.sleep(seconds)
        for process in busy:
            process.terminate()
            process.wait()

    ender = threading.Thread(target=end, daemon=True)
    ender.start()
    time.sleep(1.0)  # let the load reach the CPU before the model loads and looks
    return ender


def run_once(args: argparse.Namespace, records: list, task, follow_s: float) -> dict[str, Any]:
    """Label the records with a freshly loaded model; seconds per teacher call and threads."""
    watch = ThreadLog()
    logger = logging.getLogger("dualchecker.agents.local_llm")
    logger.addHandler(watch)
    logger.setLevel(logging.INFO)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="threads-") as tmp:
        config = RunConfig(
            task=task,
            inputs=DataSource(path=Path("-")),
            backend=BackendConfig(
                kind="local", model=args.model, params={"follow_cores_s": follow_s}
            ),
            method=method("zero-shot"),
            retrieval={"kind": "hashing"},
            run=RunSettings(dir=Path(tmp), batch_size=8, max_concurrency=1, llm_cache=False),
        )
        Run(
            config, inputs=records, pool=records, embedder=HashingEmbedder(), with_student=False
        ).execute(progress=False)
        calls = [e.seconds for e in read_events(Path(tmp) / "events.jsonl") if e.kind == "answer"]
    logger.removeHandler(watch)
    return {
        "records": len(records),
        "wall_s": round(time.perf_counter() - started, 1),
        "s_per_record_mean": round(statistics.fmean(calls), 2),
        "s_per_record_median": round(statistics.median(calls), 2),
        "threads_at_load": watch.at_load,
        "thread_changes": watch.changes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=60)
    parser.add_argument("--dataset", default="green_binary", help="a dataset preset name")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--load-s", type=float, default=20.0, help="how long the brief load lasts")
    parser.add_argument("--follow-s", type=float, default=30.0, help="follow_cores_s")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    task, records, _ = load_dataset(args.dataset, args.data_dir, size=args.records)
    records = records[: args.records]
    cores = os.cpu_count() or 1
    results = {"idle": run_once(args, records, task, args.follow_s)}
    for name, follow_s in (("load, following", args.follow_s), ("load, chosen at load", 0.0)):
        ender = brief_load(max(1, cores - 1), args.load_s)
        results[name] = run_once(args, records, task, follow_s)
        ender.join()
    report = {
        "date": date.today().isoformat(),
        "cores": cores,
        "dataset": args.dataset,
        "model": args.model,
        "load_s": args.load_s,
        "load_processes": max(1, cores - 1),
        "follow_s": args.follow_s,
        "runs": results,
    }
    print(f"{'run':<22} {'s/record (mean, median)':>24} {'threads at load':>16}  changes")
    for name, r in results.items():
        timing = f"{r['s_per_record_mean']:.2f}, {r['s_per_record_median']:.2f}"
        print(f"{name:<22} {timing:>24} {r['threads_at_load']!s:>16}  {r['thread_changes']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
