"""Orchestration efficiency through the real graph and ChatOpenAI against a local fake server.

(a) Records per second against the ideal (calls in flight ÷ server delay) at 1, 4 and 16 in flight,
    with a one-call-per-record method (zero-shot), so any shortfall is orchestration overhead.
(c) The paper's reference-code pattern against this project's orchestration of the same method
    (the `paper` preset at 5 shots: 3 static examples, the latest feedback demonstration and 2
    retrieved neighbours, each neighbour explained by the LLM). The reference pattern: one call
    at a time, batches of 1, the neighbours' rationales regenerated for every record, no LLM
    cache. Ours: 16 calls in flight, rationales cached per example, the LLM cache on. Same
    server, same run of this script.

    python benchmarks/orchestration.py                       # both, 3 repeats each
    python benchmarks/orchestration.py --part a --delay 0.5 --repeats 5 --json-out /tmp/orch.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dualchecker.agents.aligner import RationaleCache  # noqa: E402
from dualchecker.agents.backends import BackendConfig  # noqa: E402
from dualchecker.agents.types import Task, label_defs  # noqa: E402
from dualchecker.data import DataSource  # noqa: E402
from dualchecker.graph.config import RetrievalConfig, RunConfig, RunSettings, method  # noqa: E402
from dualchecker.runner import Run  # noqa: E402
from tests.integration.fake_openai_server import FakeOpenAIServer, default_answer, last_text  # noqa: E402

DATA = (
    Path(os.environ.get("DUALCHECKER_DATA", ROOT.parent / "shared" / "data"))
    / "environmental_claims"
)
TASK = Task(
    name="environmental claims",
    kind="binary",
    instructions="Does the sentence make an environmental claim?",
    labels=label_defs(no="not an environmental claim", yes="an environmental claim"),
)
LABEL_MAP = {"0": "no", "1": "yes"}
log = logging.getLogger("benchmarks.orchestration")


def unsure_one_in_five(body: dict[str, Any]) -> dict[str, Any]:
    """Default answers, but a fifth of first attempts come back at confidence 40 (re-prompted)."""
    answer = default_answer(body)
    text = last_text(body)
    reprompt = "Take extra care" in json.dumps(body.get("messages", []))
    if "confidence" in answer and not reprompt and hashlib.sha256(text.encode()).digest()[0] < 51:
        answer["confidence"] = 40
    return answer


class NoRationaleCache(RationaleCache):
    """The reference code's behaviour: every demonstration's rationale is written again each time."""

    def get_or_make(self, key: tuple, make):  # type: ignore[override]
        with self._guard:
            self.misses += 1
        return make()


def make_config(
    server: FakeOpenAIServer,
    run_dir: Path,
    *,
    name: str,
    n: int,
    batch: int,
    in_flight: int,
    llm_cache: bool,
    n_shot: int = 5,
) -> RunConfig:
    return RunConfig(
        task=TASK,
        inputs=DataSource(path=DATA / "dev.jsonl", limit=n, label_map=LABEL_MAP),
        pool=DataSource(path=DATA / "train.jsonl", limit=300, label_map=LABEL_MAP),
        method=method(name, n_shot=n_shot, student=False, student_checker=False),
        backend=BackendConfig(kind="openai", base_url=server.base_url, model="fake", max_retries=0),
        retrieval=RetrievalConfig(kind="hashing"),
        run=RunSettings(
            dir=run_dir, batch_size=batch, max_concurrency=in_flight, llm_cache=llm_cache
        ),
    )


def timed_run(config: RunConfig, *, reference: bool = False) -> dict[str, Any]:
    run = Run(config, fresh=True, with_student=False)
    if reference:
        run.ctx.aligner.cache = NoRationaleCache()
    started = time.perf_counter()
    summary = run.execute(progress=False)
    seconds = time.perf_counter() - started
    return {
        "records": summary.records,
        "seconds": seconds,
        "records_per_s": summary.records / seconds,
        "calls": summary.llm_calls,
        "calls_per_record": summary.llm_calls / summary.records,
        "tokens_per_record": (summary.usage.input_tokens + summary.usage.output_tokens)
        / summary.records,
        "failed": summary.failed,
    }


def part_a(delay: float, repeats: int, waves: int) -> list[dict[str, Any]]:
    rows = []
    for in_flight in (1, 4, 16):
        n = waves * in_flight
        rates, peaks = [], []
        for _ in range(repeats):
            with FakeOpenAIServer(delay_s=delay) as server, tempfile.TemporaryDirectory() as tmp:
                config = make_config(
                    server,
                    Path(tmp) / "run",
                    name="zero-shot",
                    n=n,
                    batch=16,
                    in_flight=in_flight,
                    llm_cache=False,
                    n_shot=0,
                )
                rates.append(timed_run(config)["records_per_s"])
                peaks.append(server.log.max_in_flight)
        ideal = in_flight / delay
        rows.append(
            {
                "in_flight": in_flight,
                "records": n,
                "ideal_per_s": ideal,
                "best_per_s": max(rates),
                "median_per_s": statistics.median(rates),
                "best_share": max(rates) / ideal,
                "median_share": statistics.median(rates) / ideal,
                "max_in_flight_seen": max(peaks),
            }
        )
        log.info("a: %s", rows[-1])
    return rows


def part_c(delay: float, repeats: int, n: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"dualchecker": [], "reference": []}
    for _ in range(repeats):
        for label, batch, in_flight, cache, reference in (
            ("dualchecker", 16, 16, True, False),
            ("reference", 1, 1, False, True),
        ):
            with (
                FakeOpenAIServer(delay_s=delay, answer=unsure_one_in_five) as server,
                tempfile.TemporaryDirectory() as tmp,
            ):
                config = make_config(
                    server,
                    Path(tmp) / "run",
                    name="paper",
                    n=n,
                    batch=batch,
                    in_flight=in_flight,
                    llm_cache=cache,
                )
                results[label].append(timed_run(config, reference=reference))
    best = {k: max(v, key=lambda r: r["records_per_s"]) for k, v in results.items()}
    ours, ref = best["dualchecker"], best["reference"]
    return {
        "method": "paper preset, 5-shot (2 retrieved neighbours)",
        "delay_s": delay,
        "records": n,
        "dualchecker": ours,
        "reference": ref,
        "speedup": ours["records_per_s"] / ref["records_per_s"],
        "call_ratio": ref["calls_per_record"] / ours["calls_per_record"],
        "token_ratio": ref["tokens_per_record"] / ours["tokens_per_record"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["a", "c", "both"], default="both")
    parser.add_argument(
        "--delay", type=float, default=0.5, help="(a) server delay per call, seconds"
    )
    parser.add_argument("--waves", type=int, default=8, help="(a) records = waves × in-flight")
    parser.add_argument("--ref-delay", type=float, default=0.1, help="(c) server delay per call")
    parser.add_argument("--ref-records", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)  # only this script's progress; per-request logs would cost CPU
    out: dict[str, Any] = {
        "date": date.today().isoformat(),
        "cpus": os.cpu_count(),
        "load_avg_before": os.getloadavg(),
    }
    if args.part in ("a", "both"):
        out["a"] = {"delay_s": args.delay, "rows": part_a(args.delay, args.repeats, args.waves)}
    if args.part in ("c", "both"):
        out["c"] = part_c(args.ref_delay, args.repeats, args.ref_records)
    out["load_avg_after"] = os.getloadavg()
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)


if __name__ == "__main__":
    main()
