"""Calibration on small pools: few parameters, labels the pool lacks, and an F1 decision rule."""

from __future__ import annotations

import numpy as np

from dualchecker.agents.calibration import MIN_FITTED, PoolSample, fit_calibration

LABELS = ["a", "b", "c"]


def sample(n: int, labels: list[str], seed: int = 0, skill: float = 0.8) -> list[PoolSample]:
    """Pool answers from a teacher right `skill` of the time, with a neighbour vote that leans
    to the gold label."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gold = labels[i % len(labels)]
        said = gold if rng.random() < skill else labels[(labels.index(gold) + 1) % len(labels)]
        teacher = {v: (0.8 if v == said else 0.2 / (len(LABELS) - 1)) for v in LABELS}
        vote = {v: (0.5 if v == gold else 0.5 / (len(LABELS) - 1)) for v in LABELS}
        out.append(PoolSample(record_id=str(i), gold=gold, teacher=teacher, neighbours=vote))
    return out


def test_the_shared_form_lets_the_teacher_name_a_label_the_pool_sample_lacks():
    pool = sample(32, ["a", "b"])  # no "c" in the pool
    shared = fit_calibration(LABELS, pool, use_neighbours=True, form="shared")
    full = fit_calibration(LABELS, pool, use_neighbours=True, form="full")
    sure_c = {"a": 0.02, "b": 0.02, "c": 0.96}
    flat = {v: 1 / 3 for v in LABELS}
    assert shared.form == "shared" and shared.decide(shared.apply(sure_c, flat)) == "c"
    assert full.decide(full.apply(sure_c, flat)) != "c"  # the full form never saw "c"
    assert 0.0 < shared.neighbour_weight < 1.0


def test_too_few_pool_answers_are_combined_at_equal_weight_and_say_so():
    pool = sample(MIN_FITTED - 4, ["a", "b"])
    calibration = fit_calibration(LABELS, pool, use_neighbours=True, form="shared")
    assert calibration.form == "equal weights"
    assert calibration.neighbour_weight == 0.5
    assert len({round(b.confidence, 3) for b in calibration.pool_calibrated.bins}) > 1


def test_the_f1_rule_lowers_the_cut_for_a_rare_positive_label():
    rng = np.random.default_rng(1)
    pool = []
    for i in range(120):  # 20% positive; the teacher leans positive on positives, not enough
        yes = i % 5 == 0
        p = float(np.clip(rng.normal(0.45 if yes else 0.25, 0.1), 0.01, 0.99))
        pool.append(
            PoolSample(
                record_id=str(i), gold="yes" if yes else "no", teacher={"no": 1 - p, "yes": p}
            )
        )
    argmax = fit_calibration(["no", "yes"], pool, use_neighbours=False)
    f1 = fit_calibration(["no", "yes"], pool, use_neighbours=False, positive="yes")
    assert argmax.decision_threshold is None and f1.decision_threshold < 0.5
    rates = [
        np.mean([c.decide(c.apply(s.teacher, None)) == "yes" for s in pool]) for c in (argmax, f1)
    ]
    assert rates[1] > rates[0]  # the F1 rule says "yes" more often than the most likely label
