"""Choose the small-pool calibration on the development split, never on the records reported.

For each option (calibration form × decision rule), pool size and seed, DualChecker at 0 shots
labels the protocol's development records with the same pools the value curve uses; the LLM
cache answers every teacher call the value curve's cells already made, so an option costs no
new LLM call beyond the development records' own. Prints labelling F1 per option and size,
beside the pool model's, and keeps them in `benchmarks/results/value_curve/DATASET/choice.json`.

    python benchmarks/value_curve_choose.py --dataset environmental_claims
"""

from __future__ import annotations

import argparse
import json
from itertools import product
from pathlib import Path

import value_curve as vc

from dualchecker.agents.aligner import ExampleIndex
from dualchecker.agents.backends import BackendConfig
from dualchecker.agents.embedders import RememberingEmbedder, SentenceTransformerEmbedder
from dualchecker.agents.pool_model import PoolClassifier
from dualchecker.data import atomic_write_text
from dualchecker.evaluation import teacher_scores

FORMS = ("full", "shared")
DECISIONS = ("argmax", "f1")


def options(binary: bool) -> list[dict]:
    """Every combination worth trying (the F1 rule exists for binary tasks only)."""
    return [
        {"calibration_form": form, "decision": decision}
        for form, decision in product(FORMS, DECISIONS if binary else ("argmax",))
    ]


def score_option(dataset, data_dir, option, size, seed, backend, embedder) -> float:
    data = vc.CellData(dataset, data_dir, size, seed, "development")
    tag = f"-development-{option['calibration_form']}-{option['decision']}"
    labelled = vc.label_only(
        data, "dualchecker-0shot", size, seed, backend, embedder, tag, **option
    )
    return teacher_scores(data.task, labelled)["f1"]


def pool_model_f1(dataset, data_dir, size, seed, embedder) -> float:
    data = vc.CellData(dataset, data_dir, size, seed, "development")
    classifier = PoolClassifier(data.task, ExampleIndex(data.pool, embedder))
    return teacher_scores(data.task, classifier.answer(data.unlabelled))["f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-dir", type=Path, default=vc.ROOT.parent.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    args = parser.parse_args()
    backend = BackendConfig(kind="local", model=args.model, params={"n_threads": 2})
    embedder = RememberingEmbedder(SentenceTransformerEmbedder())
    task = vc.CellData(args.dataset, args.data_dir, 32, 0, "development").task
    rows = []
    for size, seed in product(args.sizes, args.seeds):
        row = {"size": size, "seed": seed}
        row["pool model"] = pool_model_f1(args.dataset, args.data_dir, size, seed, embedder)
        for option in options(task.positive is not None and len(task.labels) == 2):
            name = f"{option['calibration_form']}/{option['decision']}"
            row[name] = score_option(
                args.dataset, args.data_dir, option, size, seed, backend, embedder
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    names = [k for k in rows[0] if k not in ("size", "seed")]
    means = {name: sum(r[name] for r in rows) / len(rows) for name in names}
    chosen = max((n for n in names if n != "pool model"), key=means.__getitem__)
    out = vc.RESULTS / args.dataset / "choice.json"
    atomic_write_text(out, json.dumps({"rows": rows, "means": means, "chosen": chosen}, indent=1))
    print(f"mean F1 over sizes and seeds: {means}\nchosen: {chosen}")


if __name__ == "__main__":
    main()
