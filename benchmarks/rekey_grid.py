"""Give a grid's finished cells the provenance key that covers their records' content.

Keys made before it (up to 2026-12-01) hashed the configuration with the *ids* of the records
labelled and held out, and a preset's human-pool rule; an edited data file or a replaced pool
file kept the key, so its cells were not run again. Today's key hashes the content of the
records labelled, the human pool and the held-out records. This script works out, for every
cell of the grid as configured now, the key the earlier code gave it and the key it has now, and
where `results.csv`, `configs.json` or the cell's `provenance.txt` holds the earlier one it
writes the new one; nothing is re-run. It vouches that the data files are the ones those cells
ran on: run it only when they are (the shared data is read-only).

    python benchmarks/rekey_grid.py benchmarks/grid_200x3.yaml
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
from pathlib import Path

from dualchecker import __version__
from dualchecker.data import atomic_write_text
from dualchecker.experiment import Experiment, GridConfig, cells
from dualchecker.graph.config import RunConfig


def earlier_key(config: RunConfig, labelled: list, held_out: list, pool_rule: str) -> str:
    """The key as the code before content hashing computed it."""
    body = config.model_dump_json(exclude={"run": {"dir", "llm_cache_path"}, "student": {"eval"}})
    ids = ",".join(r.id for r in labelled) + "|" + ",".join(r.id for r in held_out)
    if pool_rule != "labelled":
        ids += f"|pool={pool_rule}"
    return hashlib.sha256(f"{__version__}|{body}|{ids}".encode()).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path, help="The grid's YAML.")
    args = parser.parse_args()
    grid = GridConfig.from_yaml(args.grid)
    experiment = Experiment(grid)
    renamed: dict[str, str] = {}
    for cell in cells(grid):
        config, key, (_, labelled, _, held_out) = experiment.plan(*cell)
        old = earlier_key(config, labelled, held_out, cell[0].human_pool)
        renamed[old] = key
        saved = Path(config.run.dir) / "provenance.txt"
        if saved.exists() and saved.read_text().strip() == old:
            atomic_write_text(saved, key + "\n")
            print(f"{saved.parent.name}: {old} -> {key}")
    out = Path(grid.out_dir)
    path = out / "results.csv"
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], list(reader)
    moved = 0
    for row in rows:
        if row.get("config") in renamed:
            row["config"], moved = renamed[row["config"]], moved + 1
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())
    known_path = out / "configs.json"
    known = json.loads(known_path.read_text()) if known_path.exists() else {}
    for old, new in renamed.items():
        if old in known:
            known[new] = known.pop(old)
    atomic_write_text(known_path, json.dumps(known, indent=2))
    print(f"results.csv: {moved} of {len(rows)} rows re-keyed")


if __name__ == "__main__":
    main()
