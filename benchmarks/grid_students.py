"""Give a grid's finished cells the final students' held-out answers they were run without.

Cells run before runs kept those answers have only the students' F1, so the grid's table shows
student F1 without an interval and cannot pair two methods' students. This rebuilds each such
cell's final student exactly as the run did (the cell's teacher labels and LLM-written samples,
its student settings and seed, trained in this process instead of a Ray task), scores it on the
cell's held-out records, keeps its answers in the cell's `student_test/` (and, without their
text, beside the cell's kept labels), trains the gold-label students whose answers are missing,
and redraws the grid's table. A cell's texts come from the grid's data, by id: its kept labels
hold none. Each rebuilt student's F1 is
printed beside the one the run reported: a check that the rebuild is the same student.

    python benchmarks/grid_students.py benchmarks/grid_200x3.yaml --dataset environmental_claims
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dualchecker.distill import FinalData, final_students
from dualchecker.experiment import Experiment, GridConfig
from dualchecker.graph.config import RunConfig
from dualchecker.graph.store import ResultStore
from dualchecker.grid_report import cell_labels, keep_cell, student_answers, write_reports
from dualchecker.kept import read_records


def rebuild(experiment: Experiment, row: dict[str, str]) -> tuple[float | None, float | None]:
    """Train the cell's final student again and keep its held-out answers; (reported, rebuilt)."""
    cell = experiment.out / row["cell"]
    config = RunConfig.model_validate_json((cell / "config.json").read_text())
    # the cell's student as it was trained then: teacher labels only, no baselines beside it
    settings = config.student.model_copy(
        update={"use_ray": False, "gold_reference": False, "pool_only": False, "human_pool": False}
    )
    dataset = next(d for d in experiment.grid.datasets if d.name == row["dataset"])
    _, _, (_, labelled, _, held_out) = experiment.plan(
        dataset, row["method"], int(row["n_shot"]), int(row["seed"])
    )
    texts = {r.id: r.text for r in labelled}
    data = FinalData(
        labelled=read_records(cell_labels(experiment.out, row), texts),
        pool=[],
        synthetic=ResultStore(cell / "results.sqlite").synthetic(),
    )
    result = final_students(
        config.task,
        settings,
        config.run.seed,
        data,
        held_out,
        predictions_dir=cell / "student_test",
    )
    keep_cell(cell)
    reported = float(row["student_f1"]) if row.get("student_f1") else None
    return reported, result["teacher_labels"]["f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path, help="The grid's YAML.")
    parser.add_argument("--dataset", action="append", help="Only these datasets (repeatable).")
    args = parser.parse_args()
    grid = GridConfig.from_yaml(args.grid).only(datasets=args.dataset)
    experiment = Experiment(grid)
    rows = [r for r in experiment.current_rows() if r.get("cell")]
    for row in rows:
        if student_answers(experiment.out, row).exists() or not row.get("student_f1"):
            continue
        reported, rebuilt = rebuild(experiment, row)
        print(
            f"{row['cell']}: student F1 reported {reported:.3f}, rebuilt {rebuilt:.3f}", flush=True
        )
    experiment.gold_students()
    write_reports(experiment.current_rows(), experiment.out)
    print((experiment.out / "results.md").read_text(encoding="utf-8"), file=sys.stdout)


if __name__ == "__main__":
    main()
