"""Tables and plots of the value curve, from its kept per-record answers only (no model run).

For every dataset, pool size and row: labelling F1 on the unlabelled set and student F1 on the
untouched records, pooled over seeds (a record scored in two seeds is resampled as one), with a
95% bootstrap interval, and paired against the best pool-only row on the same records.

    python benchmarks/value_curve_report.py            # docs/results.md section + docs/img PNGs
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

from dualchecker.agents.types import LabelledRecord, Span, Task
from dualchecker.evaluation import bootstrap_f1
from dualchecker.kept import read_json

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "value_curve"
DOCS = ROOT.parent / "docs"
LABELLERS = {
    "pool_lr": "pool model (LR)",
    "zero_shot": "zero-shot teacher",
    "dualchecker": "DualChecker",
}
STUDENTS = {
    "pool_lr": "pool LR",
    "pool_only": "pool-only student",
    "self_training": "self-training",
    "zero_shot": "pool + zero-shot teacher",
    "teacher_labels": "DualChecker student",
    "ceiling": "ceiling (pool + gold)",
}
POOL_ONLY = ("pool_lr", "pool_only")
CELL = re.compile(r"(?P<method>.+)__pool(?P<size>\d+)__seed(?P<seed>\d+)\.json\.gz")


def as_record(task: Task, rid: str, gold, said) -> LabelledRecord:
    """A scored answer rebuilt from codes: label indices, or [type, start, end] spans."""
    if task.is_spans:
        spans = lambda codes: [Span(type=t, start=a, end=b, text="") for t, a, b in codes]
        return LabelledRecord(id=rid, text="", spans=spans(said), gold_spans=spans(gold))
    name = lambda code: task.label_names[code] if code >= 0 else None
    ok = said >= 0
    return LabelledRecord(
        id=rid, text="", label=name(said), gold_label=name(gold), error=None if ok else "none"
    )


def load(dataset: str) -> tuple[Task, dict, dict]:
    """The dataset's task, ids with gold, and cells by (method, size) then seed."""
    ids = read_json(RESULTS / dataset / "ids.json.gz")
    cells: dict = defaultdict(dict)
    for path in sorted((RESULTS / dataset).glob("*.json.gz")):
        match = CELL.fullmatch(path.name)
        if match:
            key = (match["method"], int(match["size"]))
            cells[key][int(match["seed"])] = read_json(path)
    return Task.model_validate(ids["task"]), ids, cells


def pooled(task: Task, gold: list, seeds: dict, part: str, row: str) -> list[LabelledRecord]:
    """One row's answers over every seed, records in the ids file's order within each seed."""
    out = []
    for seed in sorted(seeds):
        answers = seeds[seed][part].get(row)
        if answers is None:
            return []
        out += [as_record(task, rid, g, a) for (rid, g), a in zip(gold, answers)]
    return out


def row_scores(task: Task, gold: list, seeds: dict, part: str, rows: dict) -> dict[str, list]:
    """Each row's answers and its F1 with interval (clusters: one record across seeds)."""
    scored = {}
    for row in rows:
        records = pooled(task, gold, seeds, part, row)
        if records:
            clusters = [r.id for r in records]
            scored[row] = (records, bootstrap_f1(task, records, clusters=clusters), clusters)
    return scored


def paired(task: Task, scored: dict, row: str, against: str) -> tuple[float, float, float]:
    records, _, clusters = scored[row]
    return bootstrap_f1(task, records, against=scored[against][0], clusters=clusters)


def fmt(value: tuple[float, float, float], sign: bool = False) -> str:
    point, low, high = value
    f = "{:+.3f}" if sign else "{:.3f}"
    return f"{f.format(point)} [{f.format(low)}, {f.format(high)}]"


def best_pool_only(scored: dict) -> str:
    """The stronger pool-only row by its point estimate (the baseline the teacher must beat)."""
    present = [row for row in POOL_ONLY if row in scored]
    return max(present, key=lambda row: scored[row][1][0])


def changed_share(seeds: dict) -> float:
    """Share of DualChecker's labels that differ from the pool model's, averaged over seeds."""
    shares = []
    for cell in seeds.values():
        mine, pool = cell["labels"]["dualchecker"], cell["labels"]["pool_lr"]
        shares.append(sum(a != b for a, b in zip(mine, pool)) / max(len(mine), 1))
    return sum(shares) / len(shares)


def mean_of(seeds: dict, key: str) -> float | None:
    values = [cell[key] for cell in seeds.values() if cell.get(key) is not None]
    return sum(values) / len(values) if values else None


def labelling_rows(task, ids, method, size, seeds) -> list[str]:
    scored = row_scores(task, ids["unlabelled"], seeds, "labels", LABELLERS)
    weight = mean_of(seeds, "teacher_weight")
    lines = []
    for row, name in LABELLERS.items():
        if row not in scored:
            continue
        versus = "—" if row == "pool_lr" else fmt(paired(task, scored, row, "pool_lr"), sign=True)
        extra = ""
        if row == "dualchecker":
            extra = f"{weight:.2f} | {changed_share(seeds):.1%}" if weight is not None else "— | —"
        else:
            extra = "— | —"
        lines.append(f"| {size} | {method} | {name} | {fmt(scored[row][1])} | {versus} | {extra} |")
    return lines


def student_rows(task, ids, method, size, seeds) -> list[str]:
    scored = row_scores(task, ids["evaluation"], seeds, "students", STUDENTS)
    if not scored:
        return []
    best = best_pool_only(scored)
    lines = []
    for row, name in STUDENTS.items():
        if row not in scored:
            continue
        versus = "—" if row in POOL_ONLY else fmt(paired(task, scored, row, best), sign=True)
        selftrain = (
            fmt(paired(task, scored, row, "self_training"), sign=True)
            if row in ("teacher_labels", "zero_shot") and "self_training" in scored
            else "—"
        )
        lines.append(
            f"| {size} | {method} | {name} | {fmt(scored[row][1])} | {versus} | {selftrain} |"
        )
    return lines


def tables(dataset: str) -> tuple[str, dict]:
    """The dataset's two Markdown tables, and the points for its plot."""
    task, ids, cells = load(dataset)
    lab = [
        "| pool | method | labels from | F1 [95% CI] | vs pool model | teacher weight | changed |",
        "|---|---|---|---|---|---|---|",
    ]
    stu = [
        "| pool | method | student trained on | F1 [95% CI] | vs best pool-only | vs self-training |",
        "|---|---|---|---|---|---|",
    ]
    points: dict = defaultdict(list)
    for (method, size), seeds in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        lab += labelling_rows(task, ids, method, size, seeds)
        stu += student_rows(task, ids, method, size, seeds)
        if method == "dualchecker-0shot":
            for part, rows, gold in (
                ("labels", LABELLERS, ids["unlabelled"]),
                ("students", STUDENTS, ids["evaluation"]),
            ):
                for row, (_, value, _) in row_scores(task, gold, seeds, part, rows).items():
                    points[(part, row)].append((size, *value))
    n_seeds = sorted({s for seeds in cells.values() for s in seeds})
    header = (
        f"**{dataset}**: {len(ids['unlabelled'])} unlabelled records, {len(ids['evaluation'])} "
        f"untouched evaluation records, seeds {n_seeds} (pooled; a record is resampled as one "
        f"across seeds), {task.kind.value} F1."
    )
    return "\n".join([header, "", *lab, "", *stu]), points


def plot(dataset: str, points: dict, path: Path) -> None:
    """F1 against pool size: the labels (left) and the students (right), with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (part, rows, title) in zip(
        axes,
        (("labels", LABELLERS, "labels of the unlabelled set"), ("students", STUDENTS, "students")),
    ):
        for row, name in rows.items():
            series = sorted(points.get((part, row), []))
            if not series:
                continue
            x = [s[0] for s in series]
            y = [s[1] for s in series]
            err = [[s[1] - s[2] for s in series], [s[3] - s[1] for s in series]]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("human labels in the pool")
        ax.set_title(f"{dataset}: {title}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("F1 (95% interval)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=DOCS / "results.md")
    args = parser.parse_args()
    names = args.datasets or sorted(
        p.name for p in RESULTS.iterdir() if (p / "ids.json.gz").exists()
    )
    sections = []
    for name in names:
        text, points = tables(name)
        image = DOCS / "img" / f"value-curve-{name}.png"
        plot(name, points, image)
        sections.append(f"{text}\n\n![{name}](img/{image.name})\n")
    body = "\n".join([INTRO, *sections])
    replace_section(args.out, body)
    print(body)


START, END = "<!-- value-curve:start -->", "<!-- value-curve:end -->"
INTRO = """## The users' regime: a small human pool, a large unlabelled set

Written by `benchmarks/value_curve_report.py` from the kept cells of `benchmarks/value_curve.py`
(embedded Qwen2.5-Coder-0.5B, 0 shots, re-prompts and template refinement off; MiniLM students,
3 epochs at 1e-4; `docs/protocol.md` for the splits; the calibration form and decision rule
chosen on the development split by `benchmarks/value_curve_choose.py`). Labelling F1 is on the
unlabelled set (its gold read only to score), student F1 on the untouched records.
"""


def replace_section(path: Path, body: str) -> None:
    """Put `body` between the section's markers in `path` (appended the first time)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
    block = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
