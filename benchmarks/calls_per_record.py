"""LLM calls and tokens per record for every method preset (graph/config.py METHODS) at 5-shot.

A scripted teacher answers instantly (a fifth of first answers at confidence 40, so the teacher
checker re-prompts them) and gives its labels' log-probabilities, so the presets that read the
label's probability (`dualchecker`) take the path they take on a local model, one call per label
read, instead of falling back to sampling; tokens are counted as 1.3 per word. Student-side
calls (template refinement, EvoKD samples) are not part of the teacher graph and are not counted
here. A calibrating preset's pool answers are made once per run, so its calls per record depend
on the run's size (here 64 records, a 300-example pool).

    python benchmarks/calls_per_record.py --records 64 --json-out /tmp/calls.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.orchestration import DATA, LABEL_MAP, TASK  # noqa: E402
from dualchecker.agents.embedders import HashingEmbedder  # noqa: E402
from dualchecker.data import DataSource  # noqa: E402
from dualchecker.graph.config import METHODS, RunConfig, RunSettings, method  # noqa: E402
from dualchecker.runner import Run  # noqa: E402
from tests.fakes import current_text, keyword_label, scripted_teacher  # noqa: E402

KEYWORDS = {"yes": ["emission", "carbon", "energy", "renewable", "climate", "sustainab", "waste"]}


def answer(text: str, reprompt: bool) -> dict[str, Any]:
    unsure = not reprompt and hashlib.sha256(text.encode()).digest()[0] < 51
    return {
        "label": keyword_label(text, KEYWORDS, "no"),
        "confidence": 40 if unsure else 90,
        "rationale": "The sentence names an environmental benefit of the company's activity.",
    }


def label_logprobs(messages) -> dict[str, float]:
    """The scripted label's probability (0.9 for it, 0.6 for a fifth of texts, as `answer`)."""
    text = current_text(messages)
    sure = hashlib.sha256(text.encode()).digest()[0] >= 51
    p = 0.9 if sure else 0.6
    yes = keyword_label(text, KEYWORDS, "no") == "yes"
    return {" yes": math.log(p if yes else 1 - p), " no": math.log(1 - p if yes else p)}


def measure(name: str, n: int, shots: int) -> dict[str, Any]:
    llm = scripted_teacher(answer, logprobs=label_logprobs)
    with tempfile.TemporaryDirectory() as tmp:
        config = RunConfig(
            task=TASK,
            inputs=DataSource(path=DATA / "dev.jsonl", limit=n, label_map=LABEL_MAP),
            pool=DataSource(path=DATA / "train.jsonl", limit=300, label_map=LABEL_MAP),
            method=method(
                name,
                **({} if name == "zero-shot" else {"n_shot": shots}),
                student=False,
                student_checker=False,
            ),
            run=RunSettings(dir=Path(tmp) / "run", batch_size=8, max_concurrency=4),
        )
        summary = Run(config, llm=llm, embedder=HashingEmbedder(), with_student=False).execute(
            progress=False
        )
    per = {
        agent: {
            "calls": u.calls / n,
            "input_tokens": u.usage.input_tokens / n,
            "output_tokens": u.usage.output_tokens / n,
        }
        for agent, u in summary.by_agent.items()
    }
    return {
        "method": name,
        "calls_per_record": summary.llm_calls / n,
        "input_tokens_per_record": summary.usage.input_tokens / n,
        "output_tokens_per_record": summary.usage.output_tokens / n,
        "reprompt_rate": summary.reprompt_rate,
        "by_agent": per,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [measure(name, args.records, args.shots) for name in METHODS]
    out = {
        "date": date.today().isoformat(),
        "records": args.records,
        "shots": args.shots,
        "rows": rows,
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    for row in rows:
        agents = ", ".join(f"{a} {v['calls']:.2f}" for a, v in row["by_agent"].items())
        print(
            f"{row['method']:<26} {row['calls_per_record']:5.2f} calls ({agents})  "
            f"{row['input_tokens_per_record']:7.0f} in / {row['output_tokens_per_record']:4.0f} out  "
            f"re-prompted {row['reprompt_rate']:.0%}",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
