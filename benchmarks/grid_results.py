"""Copy a grid's results into a folder small enough to commit, and redraw its table and plots.

A grid's run directory holds students and checkpoints (about 90 MB a cell); the table needs only
results.csv, configs.json, each cell's labels, configuration and summary, and the final students'
held-out answers (a cell's `student_test/`, the grid's `gold_students/`) where they were kept. Run
it while a grid is still going to keep its finished cells. Only the rows the grid's current
configuration produces are kept (a cell run with other settings stays in the grid's results.csv):

    python benchmarks/grid_results.py benchmarks/grid_200x3.yaml benchmarks/results/grid-200x3
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

from dualchecker.experiment import Experiment, GridConfig
from dualchecker.grid_report import write_reports

CELL_FILES = ("labels.jsonl", "config.json", "summary.json")
KEPT_FOLDERS = ("student_test",)  # per cell, when present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path, help="The grid's YAML.")
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    experiment = Experiment(GridConfig.from_yaml(args.grid))
    grid_dir, rows = experiment.out, experiment.current_rows()
    if not rows:
        raise SystemExit(f"{grid_dir} has no finished cells of this configuration")
    args.dest.mkdir(parents=True, exist_ok=True)
    if (grid_dir / "configs.json").exists():
        shutil.copy2(grid_dir / "configs.json", args.dest / "configs.json")
    with (args.dest / "results.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        (args.dest / row["cell"]).mkdir(parents=True, exist_ok=True)
        for name in CELL_FILES:
            shutil.copy2(grid_dir / row["cell"] / name, args.dest / row["cell"] / name)
        for name in KEPT_FOLDERS:
            if (grid_dir / row["cell"] / name).is_dir():
                shutil.copytree(
                    grid_dir / row["cell"] / name,
                    args.dest / row["cell"] / name,
                    dirs_exist_ok=True,
                )
    if (grid_dir / "gold_students").is_dir():
        shutil.copytree(grid_dir / "gold_students", args.dest / "gold_students", dirs_exist_ok=True)
    write_reports(rows, args.dest)
    print((args.dest / "results.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
