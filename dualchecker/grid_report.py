"""A grid's report: its table, DualChecker paired with every method, and its F1 plots.

Everything here reads back what the grid wrote (results.csv rows, each cell's labels and
configuration, the final students' held-out answers), so a report can be redrawn, or a grid's
folder copied and reported on, without running anything. Intervals are 95% bootstrap intervals
with texts as the unit of resampling; paired differences match records by id.

Each finished cell keeps its per-record outputs beside its run in the compact form of
`dualchecker.kept` (ids, labels, offsets, gold and confidences, no text), and the report reads
those: a grid's folder can be kept without its run directories and without the data's words.
A cell finished before they were kept is read from its run's own files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dualchecker.agents.types import LabelledRecord, Task
from dualchecker.data import atomic_write_text
from dualchecker.evaluation import bootstrap_f1
from dualchecker.graph.config import METHODS
from dualchecker.kept import read_records, write_records

LABELS_KEPT = "labels.kept.jsonl.gz"
"""A cell's labelled records, kept without their text."""
STUDENT_KEPT = "student_test.kept.jsonl.gz"
"""A cell's final student's held-out answers, kept without their text."""


def _kept_or_run(kept: Path, run: Path) -> Path:
    """The kept file, or the run's own where only that one exists (a cell from before)."""
    return run if run.exists() and not kept.exists() else kept


def gold_student_answers(out: Path, dataset: str, seed: int | str) -> Path:
    """Where a grid keeps the gold-label student's held-out answers for one dataset and seed."""
    folder = out / "gold_students"
    return _kept_or_run(
        folder / f"{dataset}-seed{seed}.jsonl.gz", folder / f"{dataset}-seed{seed}.jsonl"
    )


def student_answers(out: Path, row: dict[str, str]) -> Path:
    """Where a cell keeps its final student's held-out answers (written since they are kept)."""
    cell = out / row["cell"]
    return _kept_or_run(cell / STUDENT_KEPT, cell / "student_test" / "teacher_labels.jsonl")


def cell_labels(out: Path, row: dict[str, str]) -> Path:
    """Where a cell keeps its labelled records."""
    cell = out / row["cell"]
    return _kept_or_run(cell / LABELS_KEPT, cell / "labels.jsonl")


def keep_cell(cell: Path) -> None:
    """Keep a finished cell's labels and final student's held-out answers (when it has them)
    beside its run, without their text: what the report reads."""
    write_records(cell / LABELS_KEPT, read_records(cell / "labels.jsonl"))
    answers = cell / "student_test" / "teacher_labels.jsonl"
    if answers.exists():
        write_records(cell / STUDENT_KEPT, read_records(answers))


def _f(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def cell_records(out: Path, row: dict[str, str]) -> tuple[Task, list[LabelledRecord]]:
    """A cell's task and labelled records, read back from its run directory."""
    return _cell_task(out, row), read_records(cell_labels(out, row))


def markdown_table(rows: list[dict[str, str]], out: Path | None = None) -> str:
    """One line per dataset × method × n-shot, pooled over seeds.

    Teacher F1 comes with a 95% bootstrap interval over the records of all seeds, and with its
    paired difference from zero-shot on the same records (when `out` holds the cells' labels).
    Costs are the cell's full cost: a cache hit counts as the call it replaced (its tokens, and
    the seconds that call took when it was made), shown apart.
    """
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["method"], int(row["n_shot"])), []).append(row)
    order = {name: i for i, name in enumerate(METHODS)}
    lines = [
        "| dataset | method | shots | seeds | records | teacher F1 [95% CI] | vs zero-shot [95% CI] | "
        "student F1 | gold-label student F1 | LLM calls/record (from cache) | "
        "tokens in/out per record | s/record (from cache) | re-prompted | config |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, name, shots), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][2], order.get(kv[0][1], 99))
    ):
        mean = lambda col: _mean([_f(r.get(col)) for r in group]) or 0.0
        records = mean("records") or 1
        f1_cell, diff_cell = _fmt(_mean([_f(r["teacher_f1"]) for r in group])), "–"
        if out is not None and all(r.get("cell") for r in group):
            f1_cell, diff_cell = _intervals(out, group, groups.get((dataset, "zero-shot", 0)), name)
        student_cell = _fmt(_mean([_f(r["student_f1"]) for r in group]))
        gold_cell = _fmt(_mean([_f(r["gold_student_f1"]) for r in group]))
        if out is not None and all(r.get("cell") for r in group):
            student_cell = _student_interval(out, group) or student_cell
            gold_cell = _student_interval(out, group, gold=True) or gold_cell
        calls = mean("llm_calls") + mean("cache_hits")
        tokens_in = mean("input_tokens") + mean("cached_input_tokens")
        tokens_out = mean("output_tokens") + mean("cached_output_tokens")
        lines.append(
            f"| {dataset} | {name} | {shots} | {len(group)} | {records:.0f} | {f1_cell} | {diff_cell} | "
            f"{student_cell} | {gold_cell} | "
            f"{calls / records:.2f} ({mean('cache_hits') / records:.2f}) | "
            f"{tokens_in / records:.0f}/{tokens_out / records:.0f} | "
            f"{(mean('seconds') + mean('cached_seconds')) / records:.2f} "
            f"({mean('cached_seconds') / records:.2f}) | {mean('reprompt_rate'):.0%} | "
            f"{', '.join(sorted({r.get('config') or '–' for r in group}))} |"
        )
    return "\n".join(lines) + "\n"


def paired_table(rows: list[dict[str, str]], out: Path, anchor: str = "dualchecker") -> str:
    """`anchor` (at each of its n-shots) against every other method of its dataset, record for
    record on the seeds both ran: the paired F1 difference of the teachers' labels and, where the
    cells kept their final students' held-out answers, of the students (and against the student
    trained on human labels), with 95% bootstrap intervals, texts as the unit of resampling.
    Empty when the anchor has no cells with labels."""
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        if row.get("cell"):
            groups.setdefault((row["dataset"], row["method"], int(row["n_shot"])), []).append(row)
    lines = []
    for (dataset, name, shots), mine in sorted(groups.items()):
        if name != anchor:
            continue
        for (other_dataset, other, other_shots), theirs in sorted(groups.items()):
            if other_dataset != dataset or other == anchor:
                continue
            seeds = sorted({r["seed"] for r in mine} & {r["seed"] for r in theirs}, key=int)
            if not seeds:
                continue
            diff = _paired_difference(out, mine, theirs)
            students = _paired_students(out, mine, theirs)
            lines.append(
                f"| {dataset} | {anchor} ({shots}) − {other} ({other_shots}) | {diff} | "
                f"{students} | {len(seeds)} |"
            )
        students = _paired_students(out, mine, None)
        if students != "–":
            lines.append(
                f"| {dataset} | {anchor} ({shots}) − human labels of the same records | – | "
                f"{students} | {len(mine)} |"
            )
    if not lines:
        return ""
    head = (
        "| dataset | comparison | teacher F1 difference [95% CI] | "
        "student F1 difference [95% CI] | seeds |\n|---|---|---|---|---|\n"
    )
    return head + "\n".join(lines) + "\n"


def _intervals(
    out: Path, group: list[dict[str, str]], zero: list[dict[str, str]] | None, name: str
) -> tuple[str, str]:
    """'F1 [low, high]' pooled over seeds, and the paired difference from zero-shot."""
    f1, low, high = pooled_f1(out, group)
    diff = _paired_difference(out, group, zero) if name != "zero-shot" else "–"
    return f"{f1:.3f} [{low:.3f}, {high:.3f}]", diff


def _paired_difference(
    out: Path, group: list[dict[str, str]], other: list[dict[str, str]] | None
) -> str:
    """'+d [low, high]': `group`'s teacher F1 minus `other`'s on the seeds both ran."""
    other_by_seed = {r["seed"]: r for r in other or [] if r.get("cell")}
    sides = [
        (cell_records(out, row)[1], cell_records(out, other_by_seed[row["seed"]])[1])
        for row in group
        if row["seed"] in other_by_seed
    ]
    return _paired_f1(_cell_task(out, group[0]), sides)


def _paired_f1(task: Task, sides: list[tuple[list[LabelledRecord], list[LabelledRecord]]]) -> str:
    """'+d [low, high]': F1 of the first lists minus F1 of the second, each (mine, theirs) pair
    matched record for record by id, with a 95% interval resampling texts; '–' if none match."""
    mine, theirs = [], []
    for labelled, base in sides:
        base_by_id = {r.id: r for r in base}
        for r in labelled:
            if r.id in base_by_id:
                mine.append(r)
                theirs.append(base_by_id[r.id])
    if not mine:
        return "–"
    d, low, high = bootstrap_f1(task, mine, against=theirs, clusters=[r.id for r in mine])
    return f"{d:+.3f} [{low:+.3f}, {high:+.3f}]"


def _cell_task(out: Path, row: dict[str, str]) -> Task:
    return Task.model_validate(json.loads((out / row["cell"] / "config.json").read_text())["task"])


def pooled_student_f1(
    out: Path, group: list[dict[str, str]], gold: bool = False
) -> tuple[float, float, float] | None:
    """Final-student F1 of a method's cells (or, with `gold`, of the gold-label students of the
    same seeds) pooled over seeds with its 95% interval, texts resampled, from the kept
    held-out answers; None when a cell kept none (it was run before they were kept)."""
    paths = [
        gold_student_answers(out, r["dataset"], r["seed"]) if gold else student_answers(out, r)
        for r in group
    ]
    if not paths or not all(p.exists() for p in paths):
        return None
    pooled = [record for p in paths for record in read_records(p)]
    return bootstrap_f1(_cell_task(out, group[0]), pooled, clusters=[r.id for r in pooled])


def _student_interval(out: Path, group: list[dict[str, str]], gold: bool = False) -> str | None:
    pooled = pooled_student_f1(out, group, gold)
    return None if pooled is None else "{:.3f} [{:.3f}, {:.3f}]".format(*pooled)


def _paired_students(
    out: Path, group: list[dict[str, str]], other: list[dict[str, str]] | None
) -> str:
    """'+d [low, high]': `group`'s final students minus `other`'s (None: the gold-label
    students), held-out record for record on the seeds both kept answers for."""
    other_by_seed = {r["seed"]: r for r in other or []}
    sides = []
    for row in group:
        if other is None:
            base = gold_student_answers(out, row["dataset"], row["seed"])
        elif row["seed"] in other_by_seed:
            base = student_answers(out, other_by_seed[row["seed"]])
        else:
            continue
        if student_answers(out, row).exists() and base.exists():
            sides.append((read_records(student_answers(out, row)), read_records(base)))
    return _paired_f1(_cell_task(out, group[0]), sides)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def results_markdown(rows: list[dict[str, str]], out: Path) -> str:
    """results.md: the table of every cell, then DualChecker against each method, paired."""
    paired = paired_table(rows, out)
    return markdown_table(rows, out) + (
        f"\nDualChecker against each method, paired:\n\n{paired}" if paired else ""
    )


def write_reports(rows: list[dict[str, str]], out: Path) -> None:
    """Write results.md and, when there are rows, the two F1 plots into `out`."""
    atomic_write_text(out / "results.md", results_markdown(rows, out))
    if rows:
        plot_f1_by_method(rows, out / "f1_by_method.png", out)
        plot_f1_by_shots(rows, out / "f1_by_shots.png")


def _panels(rows: list[dict[str, str]], height: float):
    """One matplotlib panel per dataset: (figure, [(axis, dataset, its rows)])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), height), squeeze=False)
    return fig, [
        (ax, d, [r for r in rows if r["dataset"] == d]) for ax, d in zip(axes[0], datasets)
    ]


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pooled_f1(out: Path, group: list[dict[str, str]]) -> tuple[float, float, float]:
    """Teacher F1 of a method's cells pooled over seeds, with its 95% interval."""
    task, pooled = None, []
    for row in group:
        task, labelled = cell_records(out, row)
        pooled += labelled
    # Seeds' samples overlap: one text is one unit of resampling, however many cells scored it.
    return bootstrap_f1(task, pooled, clusters=[r.id for r in pooled])


def plot_f1_by_method(rows: list[dict[str, str]], path: Path, out: Path | None = None) -> None:
    """Teacher and student F1 per method (each at its largest n-shot), one panel per dataset;
    with the cells' labels in `out`, teacher F1 pooled over seeds with its 95% interval, and the
    students' too where the cells kept their held-out answers."""
    fig, panels = _panels(rows, 4.2)
    for ax, dataset, subset in panels:
        names = [m for m in METHODS if any(r["method"] == m for r in subset)]
        shots = {m: max(int(r["n_shot"]) for r in subset if r["method"] == m) for m in names}
        pick = lambda m, col: (
            _mean([_f(r[col]) for r in subset if r["method"] == m and int(r["n_shot"]) == shots[m]])
            or 0
        )
        xs = range(len(names))
        teacher = [pick(m, "teacher_f1") for m in names]
        student = [pick(m, "student_f1") for m in names]
        gold = _mean([_f(r["gold_student_f1"]) for r in subset])
        error = student_error = None
        if out is not None and all(r.get("cell") for r in subset):
            chosen = lambda m: [
                r for r in subset if r["method"] == m and int(r["n_shot"]) == shots[m]
            ]
            teacher, error = _bars([pooled_f1(out, chosen(m)) for m in names])
            students = [pooled_student_f1(out, chosen(m)) for m in names]
            if all(students):
                student, student_error = _bars(students)
                one_per_seed = list({r["seed"]: r for r in subset}.values())
                gold = (pooled_student_f1(out, one_per_seed, gold=True) or [gold])[0]
        ax.bar([x - 0.2 for x in xs], teacher, 0.4, yerr=error, capsize=3, label="teacher")
        ax.bar([x + 0.2 for x in xs], student, 0.4, yerr=student_error, capsize=3, label="student")
        if gold is not None:
            ax.axhline(
                gold, color="black", linestyle="--", linewidth=1, label="student on gold labels"
            )
        ax.set_xticks(
            list(xs), [f"{m} ({shots[m]})" for m in names], rotation=35, ha="right", fontsize=8
        )
        ax.set_ylim(0, 1)
        ax.set_title(f"{dataset} (method (n-shot))")
        ax.set_ylabel("F1")
    panels[0][0].legend(fontsize=8)
    _save(fig, path)


def _bars(intervals: list[tuple[float, float, float]]) -> tuple[list[float], list[list[float]]]:
    """Bar heights and matplotlib's asymmetric error bars from (value, low, high) triples."""
    return [v for v, _, _ in intervals], [
        [v - low for v, low, _ in intervals],
        [high - v for v, _, high in intervals],
    ]


def plot_f1_by_shots(rows: list[dict[str, str]], path: Path) -> None:
    """Teacher F1 against n-shot for each method that ran at several n-shot settings."""
    fig, panels = _panels(rows, 4.0)
    for ax, dataset, subset in panels:
        for name in METHODS:
            points = sorted({int(r["n_shot"]) for r in subset if r["method"] == name})
            if len(points) < 2:
                continue
            ys = [
                _mean(
                    [
                        _f(r["teacher_f1"])
                        for r in subset
                        if r["method"] == name and int(r["n_shot"]) == n
                    ]
                )
                for n in points
            ]
            ax.plot(points, ys, marker="o", label=name)
        ax.set_title(dataset)
        ax.set_xlabel("demonstrations (n-shot)")
        ax.set_ylabel("teacher F1")
        ax.set_ylim(0, 1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    _save(fig, path)
