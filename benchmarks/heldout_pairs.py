"""Paired F1 differences between kept teacher_quality rows, on all records and on a held-out part.

A setting chosen on some records (e.g. the calibration size, picked on the first 300 claims
records) is only shown to help by records that played no part in choosing it. This reads rows
that `teacher_quality.py` kept (two runs on the same records may sit in different folders) and
pairs them record for record: on all records, on the records of the earlier `--chosen-on` split,
and on the rest. No LLM call, no model loaded.

    R=benchmarks/results/claims-0.5b-530; C=benchmarks/results/claims-0.5b-530-cal360
    T=teacher_quality-claims-qwen2.5-coder-0.5b-rows
    python benchmarks/heldout_pairs.py --n 530 --chosen-on 300 \
        --row 360:$C/$T/dc5.json.gz --row 120:$R/$T/dc5.json.gz --row reference:$R/$T/reference.json.gz \
        --row 360z:$C/$T/dc0.json.gz --row 120z:$R/$T/dc0.json.gz \
        --pair 360,120 --pair 360,reference --pair 120,reference \
        --pair 360z,120z --pair 360z,reference \
        --out benchmarks/results/claims-0.5b-530-heldout.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from teacher_quality import KeptRows, bootstrap, claims

from dualchecker.kept import read_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=530, help="records the rows were labelled on")
    parser.add_argument("--chosen-on", type=int, default=300, help="the earlier split's size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--row", action="append", required=True, help="name:path of a kept row")
    parser.add_argument("--pair", action="append", required=True, help="a,b: F1(a) − F1(b)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    task, inputs, _ = claims(args.n, args.seed)
    earlier = {r.id for r in claims(args.chosen_on, args.seed)[1]}
    reader = KeptRows(Path("."), {}, inputs)
    rows = {}
    for spec in args.row:
        name, path = spec.split(":", 1)
        kept = read_json(Path(path))["result"]["labelled"]
        rows[name] = [reader.record(r) for r in kept]
        if [r.id for r in rows[name]] != [r.id for r in inputs]:
            raise SystemExit(f"{path}: not the {args.n} records of this split, in order")
    parts = {
        f"all {args.n}": lambda i: True,
        f"the {args.chosen_on} it was chosen on": lambda i: i in earlier,
        f"the {args.n - len(earlier)} others (held out)": lambda i: i not in earlier,
    }
    lines = [
        f"claims, {args.n} records (seed {args.seed}); the earlier split: {args.chosen_on}",
        "",
        "| pair | records | F1(a) − F1(b) [95% CI] |",
        "|---|---|---|",
    ]
    for pair in args.pair:
        a, b = pair.split(",")
        for part, keep in parts.items():
            idx = [k for k, r in enumerate(inputs) if keep(r.id)]
            d, low, high = bootstrap(
                task, [rows[a][k] for k in idx], against=[rows[b][k] for k in idx], reps=2000
            )
            lines.append(f"| {a} − {b} | {part} | {d:+.3f} [{low:+.3f}, {high:+.3f}] |")
    table = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
