"""Seconds per labelled record: local models in process vs behind llama.cpp's server.

Each model is loaded both ways at once and the two are called alternately on the
same records, so background load hits both sides alike. Output is constrained to
``{label, confidence, rationale}`` by a JSON schema, as the teacher does.

    python benchmarks/local_llm.py --records 10 --rounds 2
    python benchmarks/local_llm.py --models qwen2.5-coder-0.5b --data path/to/dev.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

from dualchecker.agents.local_llm import LocalLlamaChatModel

logger = logging.getLogger("benchmarks.local_llm")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "environmental_claims" / "dev.jsonl"
MODELS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
MAX_TOKENS = 160
SYSTEM = (
    "You classify sentences from corporate reports. An environmental claim is a statement "
    "that a company, product or activity is good for, or less harmful to, the environment "
    "(emissions, energy, climate, sustainability). Answer in JSON: label (yes if the sentence "
    "is an environmental claim, otherwise no), confidence from 0 to 100, and a one-sentence "
    "rationale."
)


class Label(BaseModel):
    label: Literal["yes", "no"]
    confidence: int = Field(ge=0, le=100)
    rationale: str = Field(max_length=300)


RESPONSE_FORMAT = {"type": "json_object", "schema": Label.model_json_schema()}


@dataclass
class Call:
    """One timed request."""

    seconds: float
    input_tokens: int
    output_tokens: int
    label: str | None  # None when the reply did not parse


@dataclass
class Run:
    """All calls of one model in one mode."""

    model: str
    mode: str
    load_seconds: float
    calls: list[Call] = field(default_factory=list)

    def summary(self, gold: list[str]) -> dict[str, Any]:
        """Timing, token and label statistics; ``gold`` aligns with ``calls``."""
        seconds = [c.seconds for c in self.calls]
        labels = [c.label for c in self.calls]
        return {
            "model": self.model,
            "mode": self.mode,
            "load_s": round(self.load_seconds, 2),
            "median_s": round(statistics.median(seconds), 3),
            "mean_s": round(statistics.fmean(seconds), 3),
            "max_s": round(max(seconds), 3),
            "in_tok": round(statistics.fmean(c.input_tokens for c in self.calls)),
            "out_tok": round(statistics.fmean(c.output_tokens for c in self.calls)),
            "out_tok_per_s": round(sum(c.output_tokens for c in self.calls) / sum(seconds), 1),
            "parsed": f"{sum(lab is not None for lab in labels)}/{len(labels)}",
            "correct": f"{sum(lab == g for lab, g in zip(labels, gold))}/{len(labels)}",
        }

    @property
    def labels(self) -> list[str | None]:
        return [c.label for c in self.calls]


def load_records(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of a ``{"text", "label": 0|1}`` JSONL file."""
    with path.open() as handle:
        rows = [json.loads(line) for line, _ in zip(handle, range(n))]
    if len(rows) < n:
        raise ValueError(f"{path} has only {len(rows)} records; asked for {n}")
    return rows


def prompt(text: str) -> list[BaseMessage]:
    return [SystemMessage(SYSTEM), HumanMessage(f"Sentence: {text}")]


def timed_call(invoke: Callable[[list[BaseMessage]], Any], text: str) -> Call:
    started = time.perf_counter()
    reply = invoke(prompt(text))
    seconds = time.perf_counter() - started
    usage = reply.usage_metadata or {}
    try:
        label = Label.model_validate_json(reply.content).label
    except ValidationError:
        logger.warning("Unparseable reply: %r", reply.content[:200])
        label = None
    return Call(seconds, usage.get("input_tokens", 0), usage.get("output_tokens", 0), label)


def in_process(model: str, threads: int) -> tuple[Callable, Callable[[], None], float]:
    """An invoke function for the in-process model, its cleanup, and its load time."""
    chat = LocalLlamaChatModel.from_spec(model, n_threads=threads, max_tokens=MAX_TOKENS)
    started = time.perf_counter()
    chat.invoke("Say ok.", max_tokens=1)  # loads the weights
    bound = chat.bind(response_format=RESPONSE_FORMAT)
    return bound.invoke, chat.close, time.perf_counter() - started


def through_server(model: str, threads: int) -> tuple[Callable, Callable[[], None], float]:
    """An invoke function through ChatOpenAI and a fresh server, its stop, and start time."""
    helper = _server_helper()
    started = time.perf_counter()
    server = helper.start_llama_server(model, n_threads=threads)
    load = time.perf_counter() - started
    chat = server.chat(timeout_s=300)
    # The server ignores max_completion_tokens, which is what ChatOpenAI sends.
    bound = chat.bind(response_format=RESPONSE_FORMAT, extra_body={"max_tokens": MAX_TOKENS})
    return bound.invoke, server.stop, load


def _server_helper() -> Any:
    """The test helper that runs llama.cpp's server (benchmarks are not a package)."""
    path = ROOT / "tests" / "integration" / "llama_server.py"
    spec = importlib.util.spec_from_file_location("llama_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def bench_model(model: str, texts: list[str], rounds: int, threads: int) -> list[Run]:
    """Time both modes on the same texts, alternating which goes first."""
    modes = {"in-process": in_process, "server": through_server}
    invokes, closers, runs = {}, [], {}
    try:
        for mode, factory in modes.items():
            invokes[mode], close, load = factory(model, threads)
            closers.append(close)
            runs[mode] = Run(model, mode, load)
            timed_call(invokes[mode], texts[0])  # warm-up: grammar and prompt cache
        for i, text in enumerate(texts * rounds):
            order = list(modes) if i % 2 == 0 else list(reversed(modes))
            for mode in order:
                runs[mode].calls.append(timed_call(invokes[mode], text))
            logger.info("%s record %d/%d done", model, i + 1, len(texts) * rounds)
    finally:
        for close in closers:
            close()
    return list(runs.values())


def markdown_table(rows: list[dict[str, Any]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[k]) for k in header) + " |" for r in rows]
    return "\n".join(lines)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    """Server vs in-process per model, and each model vs the first, on the median."""
    by = {(r["model"], r["mode"]): r["median_s"] for r in rows}
    models = list(dict.fromkeys(r["model"] for r in rows))
    out = [
        f"{m}: server / in-process = {by[m, 'server'] / by[m, 'in-process']:.2f}" for m in models
    ]
    for m in models[1:]:
        for mode in ("in-process", "server"):
            out.append(f"{mode}: {m} / {models[0]} = {by[m, mode] / by[models[0], mode]:.2f}")
    return out


def _cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the records")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        logger.warning("Load average is %.1f: other work will slow llama.cpp badly", load_before)
    records = load_records(args.data, args.records)
    texts = [r["text"] for r in records]
    gold = ["yes" if r["label"] else "no" for r in records]
    rows, agreement = [], []
    for model in args.models:
        runs = bench_model(model, texts, args.rounds, args.threads)
        rows += [run.summary(gold * args.rounds) for run in runs]
        same = sum(a == b for a, b in zip(runs[0].labels, runs[1].labels))
        total = len(texts) * args.rounds
        agreement.append(f"{model}: in-process and server labels agree on {same}/{total}")
    report = {
        "date": date.today().isoformat(),
        "machine": f"{_cpu_name()}, {os.cpu_count()} CPUs",
        "threads": args.threads,
        "records": args.records,
        "rounds": args.rounds,
        "data": str(args.data),
        "max_tokens": MAX_TOKENS,
        "load_avg_1m": {"before": load_before, "after": os.getloadavg()[0]},
        "results": rows,
        "agreement": agreement,
    }
    print(markdown_table(rows))  # the table is this script's output
    print("\n".join(ratios(rows) + agreement))
    print(f"1-min load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
