"""Paired comparison of teacher_quality rows with the no-LLM reference, record for record.

`teacher_quality.py` pairs every row with zero-shot; the question "does DualChecker beat the
logistic regression on the pool?" needs the same pairing against the reference. This reads the
rows' per-record labels from a `*.partial.jsonl.gz` the benchmark wrote, recomputes the reference
exactly as the benchmark does (same records, same pool, same seed), and prints F1 differences
with 95% bootstrap intervals.

    python benchmarks/paired_vs_reference.py \
        benchmarks/results/claims-1.5b/teacher_quality-claims-qwen2.5-coder-1.5b.partial.jsonl.gz
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from teacher_quality import bootstrap, claims, no_llm_reference  # noqa: E402

from dualchecker.agents.embedders import SentenceTransformerEmbedder  # noqa: E402
from dualchecker.agents.types import LabelledRecord  # noqa: E402
from dualchecker.kept import read_lines  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("partial", type=Path)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    task, inputs, pool = claims(args.n, args.seed)
    reference = no_llm_reference(task, inputs, pool, SentenceTransformerEmbedder())
    rows: dict[str, dict[str, dict]] = {}
    for line in read_lines(args.partial):
        item = json.loads(line)
        rows.setdefault(item["row"], {})[item["id"]] = item  # a rerun's row replaces the older
    print(f"{args.partial.name}: row − reference (logistic regression on MiniLM), paired")
    for name, by_id in rows.items():
        if set(by_id) != {r.id for r in inputs}:
            continue  # a row on other records (the 'before' subsample) cannot be paired
        labelled = [
            LabelledRecord(
                id=r.id, text=r.text, label=by_id[r.id]["label"], gold_label=r.label, confidence=0.5
            )
            for r in inputs
        ]
        d, low, high = bootstrap(task, labelled, against=reference)
        print(f"  {name}: {d:+.3f} [{low:+.3f}, {high:+.3f}]  (n={len(labelled)})")


if __name__ == "__main__":
    main()
