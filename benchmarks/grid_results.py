"""Copy a grid's results into a folder small enough to commit, and redraw its table and plots.

A grid's run directory holds students, checkpoints, prompts and the data's text (about 90 MB a
cell); the table needs only results.csv, configs.json, each cell's configuration and summary, and
the per-record outputs each cell keeps without any text (`grid_report.keep_cell`: its labels and
its final student's held-out answers) with the gold-label students' answers, kept the same way.
A cell finished before cells kept them is kept here, from its run's files. Run it while a grid is
still going to keep its finished cells. Only the rows the grid's current configuration produces
are kept (a cell run with other settings stays in the grid's results.csv):

    python benchmarks/grid_results.py benchmarks/grid_200x3.yaml benchmarks/results/grid-200x3

The table and plots of a kept folder are redrawn from its own files alone (no run, no data):

    python benchmarks/grid_results.py --redraw benchmarks/results/grid-200x3
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

from dualchecker.experiment import Experiment, GridConfig
from dualchecker.grid_report import (
    LABELS_KEPT,
    STUDENT_KEPT,
    gold_student_answers,
    keep_cell,
    write_reports,
)
from dualchecker.kept import read_records, write_records

CELL_FILES = ("config.json", "summary.json")
KEPT_FILES = (LABELS_KEPT, STUDENT_KEPT)  # per cell, when present


def keep(grid_path: Path, dest: Path) -> list[dict[str, str]]:
    """Copy the grid's current rows, its cells' kept files and its gold-label students' answers."""
    experiment = Experiment(GridConfig.from_yaml(grid_path))
    grid_dir, rows = experiment.out, experiment.current_rows()
    if not rows:
        raise SystemExit(f"{grid_dir} has no finished cells of this configuration")
    dest.mkdir(parents=True, exist_ok=True)
    if (grid_dir / "configs.json").exists():
        shutil.copy2(grid_dir / "configs.json", dest / "configs.json")
    with (dest / "results.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        cell = grid_dir / row["cell"]
        if not (cell / LABELS_KEPT).exists():
            keep_cell(cell)  # finished before cells kept their outputs
        (dest / row["cell"]).mkdir(parents=True, exist_ok=True)
        for name in CELL_FILES + KEPT_FILES:
            if (cell / name).exists():
                shutil.copy2(cell / name, dest / row["cell"] / name)
    for dataset, seed in sorted({(r["dataset"], r["seed"]) for r in rows}):
        answers = gold_student_answers(grid_dir, dataset, seed)
        if answers.exists():
            name = f"{dataset}-seed{seed}.jsonl.gz"
            write_records(dest / "gold_students" / name, read_records(answers))
    return rows


def redraw(folder: Path) -> None:
    """Redraw a kept folder's table and plots from its results.csv and kept files."""
    with (folder / "results.csv").open(newline="", encoding="utf-8") as handle:
        write_reports(list(csv.DictReader(handle)), folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path, nargs="?", help="The grid's YAML.")
    parser.add_argument("dest", type=Path, nargs="?")
    parser.add_argument("--redraw", type=Path, help="A kept folder to redraw, alone.")
    args = parser.parse_args()
    if args.redraw is not None:
        redraw(args.redraw)
        dest = args.redraw
    elif args.grid is None or args.dest is None:
        parser.error("give the grid's YAML and the folder to keep it in, or --redraw FOLDER")
    else:
        write_reports(keep(args.grid, args.dest), args.dest)
        dest = args.dest
    print((dest / "results.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
