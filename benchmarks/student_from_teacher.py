"""Students trained on teacher labels: does the confidence cut keep the teacher's mistakes out?

Reads the per-record answers that `teacher_quality.py` wrote for the environmental claims
(`*.partial.jsonl.gz`: id, teacher label, calibrated confidence, gold) and fine-tunes the packaged
MiniLM student, with several seeds, on the same records labelled five ways:
- the human labels of those records (the like-for-like ceiling);
- zero-shot teacher labels;
- DualChecker teacher labels, all of them (`student.min_confidence` unset);
- DualChecker teacher labels at or above each confidence cut (`student.min_confidence`).

Every student is scored on the claims test records that were not labelled (disjoint by id and by
text). Figures: F1 averaged over the seeds with a 95% bootstrap interval over test records, and the
paired difference of each cut with "all labels" on the same test records. The gold labels of
the labelled records are read only to train the ceiling and to report each training set's
label accuracy; no teacher-label student sees them.

    python benchmarks/student_from_teacher.py \
        benchmarks/results/claims-0.5b/teacher_quality-claims-qwen2.5-coder-0.5b.partial.jsonl.gz
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import date
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from dualchecker.adapters import ENV_CLAIMS, environmental_claims  # noqa: E402
from dualchecker.agents.aligner import normalise_text  # noqa: E402
from dualchecker.agents.student import gold_examples  # noqa: E402
from dualchecker.kept import read_lines  # noqa: E402
from dualchecker.training import StudentConfig, StudentExample  # noqa: E402
from dualchecker.training.metrics import classification_scores  # noqa: E402
from dualchecker.training.trainer import StudentTrainer  # noqa: E402

DATA = Path(
    os.environ.get("DUALCHECKER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
POSITIVE = ENV_CLAIMS.label_names.index(ENV_CLAIMS.positive)


def read_rows(path: Path) -> dict[str, list[dict]]:
    """The partial file's answers, grouped by row name (the last run of a row wins)."""
    rows: dict[str, dict[str, dict]] = {}
    for line in read_lines(path):
        item = json.loads(line)
        rows.setdefault(item["row"], {})[item["id"]] = item
    return {name: list(items.values()) for name, items in rows.items()}


def training_sets(
    rows: dict[str, list[dict]], dc_row: str, zero_row: str, cuts: list[float]
) -> dict[str, list[dict]]:
    """Name → answers to train on. Answers without a label (teacher failures) are left out."""
    labelled = {name: [a for a in answers if a["label"]] for name, answers in rows.items()}
    dc = labelled[dc_row]
    sets = {
        "human labels (same records)": [{**a, "label": a["gold"]} for a in dc],
        "zero-shot teacher": labelled[zero_row],
        "DualChecker teacher, all labels": dc,
    }
    for cut in cuts:
        sets[f"DualChecker teacher, confidence ≥ {cut:g}"] = [
            a for a in dc if (a["confidence"] or 0.0) >= cut
        ]
    return sets


def held_out(labelled_ids: set[str], labelled_texts: set[str]):
    """Claims test records that were not labelled: disjoint by id and by normalised text."""
    return [
        r
        for r in environmental_claims(DATA, "test")
        if r.id not in labelled_ids and normalise_text(r.text) not in labelled_texts
    ]


def f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Positive-class F1, the task's headline."""
    return classification_scores(gold.tolist(), pred.tolist(), "binary", POSITIVE)["f1"]


def interval(gold: np.ndarray, preds: np.ndarray, base: np.ndarray | None, reps: int, seed: int):
    """Seed-averaged F1 (or its paired difference with `base`) and a 95% bootstrap interval over
    test records; `preds` and `base` are (seeds, records)."""

    def score(idx: np.ndarray) -> float:
        value = np.mean([f1(gold[idx], p[idx]) for p in preds])
        if base is not None:
            value -= np.mean([f1(gold[idx], p[idx]) for p in base])
        return float(value)

    rng = np.random.default_rng(seed)
    everything = np.arange(gold.size)
    draws = [score(rng.integers(0, gold.size, gold.size)) for _ in range(reps)]
    low, high = np.percentile(draws, [2.5, 97.5])
    return score(everything), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "partial", type=Path, help="teacher_quality.py's *.partial.jsonl.gz (claims)"
    )
    parser.add_argument("--dc-row", default="DualChecker 5-shot")
    parser.add_argument("--zero-row", default="zero-shot")
    parser.add_argument("--cuts", default="0.75,0.9", help="min_confidence values to compare")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--reps", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--out", type=Path, default=None, help="markdown table (and .json) here")
    args = parser.parse_args()

    rows = read_rows(args.partial)
    cuts = [float(c) for c in args.cuts.split(",") if c]
    sets = training_sets(rows, args.dc_row, args.zero_row, cuts)
    texts = {r.id: r.text for split in ("dev", "test") for r in environmental_claims(DATA, split)}
    labelled_ids = {a["id"] for a in rows[args.dc_row]}
    test = gold_examples(
        ENV_CLAIMS, held_out(labelled_ids, {normalise_text(texts[i]) for i in labelled_ids})
    )
    gold = np.array([ex.label for ex in test])
    ids = {name: i for i, name in enumerate(ENV_CLAIMS.label_names)}
    predictions: dict[str, np.ndarray] = {}
    for name, answers in sets.items():
        train = [
            StudentExample(id=a["id"], text=texts[a["id"]], label=ids[a["label"]]) for a in answers
        ]
        runs = []
        for seed in range(args.seeds):
            config = StudentConfig(
                task="classification",
                num_labels=len(ENV_CLAIMS.label_names),
                learning_rate=args.lr,
                final_epochs=args.epochs,
                seed=seed,
                device="cpu",
            )
            trainer = StudentTrainer(config)
            trainer.fit(train)
            runs.append([p.label for p in trainer.predict([ex.text for ex in test])])
            print(f"{name}, seed {seed}: F1 {f1(gold, np.array(runs[-1])):.3f}", flush=True)
        predictions[name] = np.array(runs)

    base = predictions["DualChecker teacher, all labels"]
    lines = [
        f"Students on teacher labels, environmental claims; {date.today().isoformat()}, "
        f"{platform.machine()}, {os.cpu_count()} cores. Teacher answers: `{args.partial.name}`.",
        f"MiniLM student, {args.epochs} epochs, lr {args.lr:g}, seeds 0–{args.seeds - 1}; scored on "
        f"{len(test)} test records that were not labelled. F1 is the seed mean; intervals are "
        f"95% bootstrap over test records ({args.reps} resamples).",
        "",
        "| trained on | n | label accuracy | student F1 [95% CI] | vs all labels [95% CI] |",
        "|---|---|---|---|---|",
    ]
    results = []
    for name, answers in sets.items():
        accuracy = np.mean([a["label"] == a["gold"] for a in answers]) if answers else float("nan")
        point, low, high = interval(gold, predictions[name], None, args.reps, 0)
        diff = "–"
        if predictions[name] is not base and name.startswith("DualChecker"):
            d, dl, dh = interval(gold, predictions[name], base, args.reps, 0)
            diff = f"{d:+.3f} [{dl:+.3f}, {dh:+.3f}]"
        lines.append(
            f"| {name} | {len(answers)} | {accuracy:.3f} | "
            f"{point:.3f} [{low:.3f}, {high:.3f}] | {diff} |"
        )
        results.append(
            dict(name=name, n=len(answers), label_accuracy=accuracy, f1=point, ci=[low, high])
        )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table, encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
