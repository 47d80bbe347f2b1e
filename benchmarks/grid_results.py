"""Copy a grid's results into a folder small enough to commit, and redraw its table and plots.

A grid's run directory holds students and checkpoints (about 90 MB a cell); the table needs only
results.csv, configs.json, each cell's labels, configuration and summary, and the final students'
held-out answers (a cell's `student_test/`, the grid's `gold_students/`) where they were kept. Run
it while a grid is still going to keep its finished cells:

    python benchmarks/grid_results.py runs/grid_200x3 benchmarks/results/grid-200x3
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from dualchecker.experiment import _read_csv, plot_f1_by_method, plot_f1_by_shots, results_markdown

CELL_FILES = ("labels.jsonl", "config.json", "summary.json")
KEPT_FOLDERS = ("student_test",)  # per cell, when present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid_dir", type=Path, help="The grid's out_dir.")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    rows = _read_csv(args.grid_dir / "results.csv")
    if not rows:
        raise SystemExit(f"{args.grid_dir} has no finished cells (no rows in results.csv)")
    args.dest.mkdir(parents=True, exist_ok=True)
    for name in ("results.csv", "configs.json"):
        if (args.grid_dir / name).exists():
            shutil.copy2(args.grid_dir / name, args.dest / name)
    for row in rows:
        (args.dest / row["cell"]).mkdir(parents=True, exist_ok=True)
        for name in CELL_FILES:
            shutil.copy2(args.grid_dir / row["cell"] / name, args.dest / row["cell"] / name)
        for name in KEPT_FOLDERS:
            if (args.grid_dir / row["cell"] / name).is_dir():
                shutil.copytree(
                    args.grid_dir / row["cell"] / name,
                    args.dest / row["cell"] / name,
                    dirs_exist_ok=True,
                )
    if (args.grid_dir / "gold_students").is_dir():
        shutil.copytree(
            args.grid_dir / "gold_students", args.dest / "gold_students", dirs_exist_ok=True
        )
    (args.dest / "results.md").write_text(results_markdown(rows, args.dest), encoding="utf-8")
    plot_f1_by_method(rows, args.dest / "f1_by_method.png", args.dest)
    plot_f1_by_shots(rows, args.dest / "f1_by_shots.png")
    print((args.dest / "results.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
