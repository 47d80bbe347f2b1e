"""How far can any combination of the 0.5B teacher and the pool's probe get on claims?

Reads the per-record probabilities a finished `teacher_quality.py --dataset claims` run saved
(`*.partial.jsonl.gz`), recomputes the no-LLM reference (logistic regression on frozen MiniLM
embeddings of the whole pool), and fits the combination DualChecker fits on 120 pool examples,
but here by 10-fold cross-validation on the labelled records themselves: an upper bound a run
cannot reach (it uses their gold labels), that says whether the teacher carries information the
probe lacks. Paired bootstrap intervals over the same records; no LLM call.

    python benchmarks/stacking_headroom.py \
        benchmarks/results/claims-0.5b/teacher_quality-claims-qwen2.5-coder-0.5b.partial.jsonl.gz
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from teacher_quality import claims  # the benchmark's own split: same records, same seed

from dualchecker.agents.embedders import SentenceTransformerEmbedder
from dualchecker.kept import read_lines

EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def cross_validated(features: np.ndarray, gold: np.ndarray, seed: int = 0) -> np.ndarray:
    """P(yes) for each record from a logistic regression fitted on the other nine folds."""
    out = np.zeros(len(gold))
    folds = StratifiedKFold(n_splits=10, shuffle=True, random_state=seed)
    for train, test in folds.split(features, gold):
        model = LogisticRegression(max_iter=2000).fit(features[train], gold[train])
        out[test] = model.predict_proba(features[test])[:, 1]
    return out


def paired(gold: np.ndarray, a: np.ndarray, b: np.ndarray, reps: int = 2000, seed: int = 0):
    """F1 of predictions a, and F1(a) − F1(b) with its 95% percentile interval."""
    rng = np.random.default_rng(seed)
    f1 = lambda y, p: f1_score(y, p, zero_division=0)
    draws = []
    for _ in range(reps):
        idx = rng.integers(0, len(gold), len(gold))
        draws.append(f1(gold[idx], a[idx]) - f1(gold[idx], b[idx]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return f1(gold, a), f1(gold, a) - f1(gold, b), low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("partial", type=Path)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()

    _, inputs, pool = claims(args.n, seed=0)
    rows: dict[str, dict[str, tuple[bool, float]]] = {}  # row -> id -> (final label, P(yes))
    for line in read_lines(args.partial):
        item = json.loads(line)
        if item.get("probabilities"):  # rows without a distribution (verbalised) are left out
            said = (item["label"] == "yes", item["probabilities"]["yes"])
            rows.setdefault(item["row"], {})[item["id"]] = said
    ids = [r.id for r in inputs]
    gold = np.array([r.label == "yes" for r in inputs], dtype=int)

    embedder = SentenceTransformerEmbedder()
    probe = LogisticRegression(max_iter=2000).fit(
        embedder.encode([r.text for r in pool]), [r.label for r in pool]
    )
    yes = list(probe.classes_).index("yes")
    reference = probe.predict_proba(embedder.encode([r.text for r in inputs]))[:, yes]

    print(f"claims, {len(ids)} records ({gold.sum()} yes), pool {len(pool)}; seed 0")
    print("| row | F1 | vs reference [95% CI] | AUROC of P(yes) against gold |")
    print("|---|---|---|---|")
    ref_pred = (reference >= 0.5).astype(int)
    print(
        f"| no-LLM reference (probe) | {f1_score(gold, ref_pred):.3f} | – | "
        f"{roc_auc_score(gold, reference):.3f} |"
    )
    for name, probs in rows.items():
        if not all(i in probs for i in ids):
            continue
        said = np.array([probs[i][0] for i in ids], dtype=int)
        p = np.array([probs[i][1] for i in ids])  # the last attempt's (a re-prompt's, if any)
        f1, diff, low, high = paired(gold, said, ref_pred)
        print(
            f"| {name}, as run | {f1:.3f} | {diff:+.3f} [{low:+.3f}, {high:+.3f}] | "
            f"{roc_auc_score(gold, p):.3f} |"
        )
        stacked = cross_validated(np.column_stack([logit(p), logit(reference)]), gold)
        for rule, cut in (("argmax", 0.5), ("F1-optimal cut 0.35", 0.35)):
            f1, diff, low, high = paired(gold, (stacked >= cut).astype(int), ref_pred)
            print(
                f"| {name} + probe, 10-fold CV on the records ({rule}) | {f1:.3f} | "
                f"{diff:+.3f} [{low:+.3f}, {high:+.3f}] | {roc_auc_score(gold, stacked):.3f} |"
            )


if __name__ == "__main__":
    main()
