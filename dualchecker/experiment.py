"""Experiment grids: datasets × methods × n-shot × seeds, each cell one DualChecker run.

Every cell is an ordinary run directory (so it resumes), results are appended to a CSV as cells
finish (so an interrupted grid picks up where it stopped), and the table and plots are redrawn
from that CSV. The gold-label student is trained once per dataset and seed: it is the reference
every method's student is compared with.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dualchecker.adapters import load_dataset
from langchain_core.language_models import BaseChatModel

from dualchecker.agents.backends import BackendConfig, make_backend
from dualchecker.agents.embedders import Embedder
from dualchecker.data import DataSource, atomic_write_text
from dualchecker.errors import ConfigError
from dualchecker.graph.config import METHODS, RetrievalConfig, RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run, make_embedder

log = logging.getLogger(__name__)

COLUMNS = ["dataset", "kind", "method", "n_shot", "seed", "records", "teacher_f1", "teacher_precision",
           "teacher_recall", "student_f1", "gold_student_f1", "llm_calls", "cache_hits", "input_tokens", "output_tokens",
           "seconds", "reprompt_rate", "failed", "synthetic"]
# With no demonstrations these methods are the same prompt as zero-shot: not run at 0-shot.
NEEDS_SHOTS = {"few-shot", "aligner", "aligner+teacher-checker", "aligner+student-checker", "dualchecker"}
ZERO_SHOT_ONLY = {"zero-shot"}
PRIORITY = ["zero-shot", "dualchecker", "dtot", "cot", "aligner", "aligner+teacher-checker",
            "evokd", "aligner+student-checker", "few-shot"]


class DatasetSpec(BaseModel):
    """One dataset of the grid, by registry name, with optional caps on its sizes."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    size: int | None = Field(None, gt=0, description="Records the teacher labels (also the retrieval pool).")
    eval_size: int | None = Field(None, gt=0, description="Held-out gold records for the students.")


class GridConfig(BaseModel):
    """An experiment grid: datasets, methods, n-shots and seeds, and the settings every cell shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = "grid"
    out_dir: Path = Path("runs/experiment")
    data_dir: Path = Path("../shared/data")
    datasets: list[DatasetSpec]
    methods: list[str] = Field(default_factory=lambda: list(METHODS))
    n_shots: list[int] = Field(default_factory=lambda: [0, 5])
    seeds: list[int] = Field(default_factory=lambda: [0])
    backend: BackendConfig = Field(default_factory=BackendConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    student: StudentSettings = Field(default_factory=StudentSettings)
    batch_size: int = 8
    max_concurrency: int = 1
    llm_cache: bool = Field(True, description="Share one LLM call cache across the grid's cells.")
    method_overrides: dict[str, Any] = Field(default_factory=dict,
                                             description="Applied to every method, e.g. {threshold: 0.8}.")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "GridConfig":
        """Load a grid from YAML; `out_dir` and `data_dir` are relative to the file.

        Raises:
            ConfigError: an invalid field or an unknown method name.
        """
        path = Path(path)
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("out_dir", "data_dir"):
            if key in raw:
                raw[key] = str(path.parent / raw[key])
        try:
            grid = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path}: {problems}") from None
        unknown = sorted(set(grid.methods) - set(METHODS))
        if unknown:
            raise ConfigError(f"{path}: unknown methods {unknown}; known: {sorted(METHODS)}")
        return grid


def cells(grid: GridConfig) -> list[tuple[DatasetSpec, str, int, int]]:
    """The grid's runs, the most informative first (so a grid cut short still compares the
    main methods on every dataset): by n-shot from high to low, then method, then dataset."""
    todo = [(ds, m, n, seed) for ds in grid.datasets for seed in grid.seeds for n in grid.n_shots
            for m in grid.methods
            if not (n == 0 and m in NEEDS_SHOTS) and not (n > 0 and m in ZERO_SHOT_ONLY)]
    order = {name: i for i, name in enumerate(PRIORITY)}
    return sorted(todo, key=lambda c: (c[3], c[1] not in ZERO_SHOT_ONLY, -c[2],
                                       order.get(c[1], len(order)), grid.datasets.index(c[0])))


def cell_id(ds: DatasetSpec, name: str, n_shot: int, seed: int) -> str:
    """The cell's run directory name, e.g. ``green_binary__aligner-teacher-checker__5shot__seed0``."""
    return f"{ds.name}__{name.replace('+', '-')}__{n_shot}shot__seed{seed}"


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()


class Experiment:
    """Runs the cells of a grid that are not in results.csv yet, then writes table and plots."""

    def __init__(self, grid: GridConfig, *, llm: BaseChatModel | None = None, embedder: Embedder | None = None):
        # One chat model for the whole grid (a local model loads once); each cell gets a fresh
        # ChatBackend on it, with the backend's structured-output method, counting its own calls.
        self.grid = grid
        self.backend = make_backend(llm if llm is not None else grid.backend)
        self.out = Path(grid.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.csv = self.out / "results.csv"
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The retrieval embedder, made on first use and shared by every cell."""
        if self._embedder is None:
            self._embedder = make_embedder(self.grid.retrieval)
        return self._embedder

    def run(self, *, progress: bool = True) -> list[dict[str, str]]:
        """Run the missing cells, appending each to results.csv, then redraw the reports; returns
        every row of results.csv."""
        done = {(r["dataset"], r["method"], int(r["n_shot"]), int(r["seed"])) for r in _read_csv(self.csv)}
        todo = [c for c in cells(self.grid) if (c[0].name, c[1], c[2], c[3]) not in done]
        gold = self._gold_students()
        from tqdm.auto import tqdm

        for ds, name, n_shot, seed in tqdm(todo, desc="grid", unit="run", disable=not progress):
            row = self._run_cell(ds, name, n_shot, seed)
            row["gold_student_f1"] = gold.get((ds.name, seed))
            _append_csv(self.csv, row)
        rows = _read_csv(self.csv)
        write_reports(rows, self.out, self.grid)
        return rows

    def _data(self, ds: DatasetSpec, seed: int):
        return load_dataset(ds.name, self.grid.data_dir, size=ds.size, eval_size=ds.eval_size, seed=seed)

    def _run_cell(self, ds: DatasetSpec, name: str, n_shot: int, seed: int) -> dict[str, Any]:
        task, pool, held_out = self._data(ds, seed)
        held_path = self.out / "data" / f"{ds.name}-seed{seed}-heldout.jsonl"
        atomic_write_text(held_path, "".join(r.model_dump_json() + "\n" for r in held_out))
        config = RunConfig(
            task=task, inputs=DataSource(path=Path("-")),
            method=method(name, n_shot=n_shot, **self.grid.method_overrides), backend=self.grid.backend,
            retrieval=self.grid.retrieval,
            student=self.grid.student.model_copy(update={"eval": DataSource(path=held_path), "gold_reference": False}),
            run=RunSettings(dir=self.out / "cells" / cell_id(ds, name, n_shot, seed),
                            batch_size=self.grid.batch_size, max_concurrency=self.grid.max_concurrency, seed=seed,
                            # one cache for the grid: a prompt two cells share (the same rationale,
                            # the same zero-shot question) is asked once; decoding is greedy anyway
                            llm_cache=self.grid.llm_cache, llm_cache_path=self.out / "llm_cache.sqlite"))
        started = time.perf_counter()
        summary = Run(config, llm=self.backend.fresh(), embedder=self.embedder, inputs=pool,
                      pool=pool).execute(progress=False)
        teacher = summary.teacher or {}
        student = summary.student or {}
        return {"dataset": ds.name, "kind": task.kind.value, "method": name, "n_shot": n_shot, "seed": seed,
                "records": summary.records, "teacher_f1": teacher.get("f1"),
                "teacher_precision": teacher.get("precision"), "teacher_recall": teacher.get("recall"),
                "student_f1": student.get("teacher_labels", {}).get("f1"), "llm_calls": summary.llm_calls,
                "cache_hits": summary.cache_hits,
                "input_tokens": summary.usage.input_tokens, "output_tokens": summary.usage.output_tokens,
                "seconds": round(time.perf_counter() - started, 1), "reprompt_rate": summary.reprompt_rate,
                "failed": summary.failed, "synthetic": student.get("synthetic", 0)}

    def _gold_students(self) -> dict[tuple[str, int], float]:
        """The same student trained on the human labels of the same records (once per dataset/seed)."""
        path = self.out / "gold_students.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        from dualchecker.distill import student_config
        from dualchecker.agents.student import gold_examples
        from dualchecker.training.evaluate import train_and_evaluate

        for ds in self.grid.datasets:
            for seed in self.grid.seeds:
                key = f"{ds.name}|{seed}"
                if key in known:
                    continue
                task, pool, held_out = self._data(ds, seed)
                positive = task.label_names.index(task.positive) if task.positive else 1
                report = train_and_evaluate(student_config(task, self.grid.student, seed), gold_examples(task, pool),
                                            gold_examples(task, held_out), positive=positive)
                known[key] = report.f1
                atomic_write_text(path, json.dumps(known, indent=2))
        return {(k.split("|")[0], int(k.split("|")[1])): v for k, v in known.items()}


def _f(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def markdown_table(rows: list[dict[str, str]]) -> str:
    """One line per dataset × method × n-shot (mean over seeds)."""
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["method"], int(row["n_shot"])), []).append(row)
    order = {name: i for i, name in enumerate(METHODS)}
    lines = ["| dataset | method | shots | teacher F1 | student F1 | gold-label student F1 | LLM calls/record | "
             "tokens in/out per record | s/record | re-prompted |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (dataset, name, shots), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2], order.get(kv[0][1], 99))):
        mean = lambda col: _mean([_f(r[col]) for r in group])
        records = mean("records") or 1
        lines.append(
            f"| {dataset} | {name} | {shots} | {_fmt(mean('teacher_f1'))} | {_fmt(mean('student_f1'))} | "
            f"{_fmt(mean('gold_student_f1'))} | {mean('llm_calls') / records:.2f} | "
            f"{mean('input_tokens') / records:.0f}/{mean('output_tokens') / records:.0f} | "
            f"{mean('seconds') / records:.2f} | {mean('reprompt_rate'):.0%} |")
    return "\n".join(lines) + "\n"


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def write_reports(rows: list[dict[str, str]], out: Path, grid: GridConfig) -> None:
    """Write results.md and, when there are rows, the two F1 plots into `out`."""
    atomic_write_text(out / "results.md", markdown_table(rows))
    if rows:
        plot_f1_by_method(rows, out / "f1_by_method.png")
        plot_f1_by_shots(rows, out / "f1_by_shots.png")


def _panels(rows: list[dict[str, str]], height: float):
    """One matplotlib panel per dataset: (figure, [(axis, dataset, its rows)])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), height), squeeze=False)
    return fig, [(ax, d, [r for r in rows if r["dataset"] == d]) for ax, d in zip(axes[0], datasets)]


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_f1_by_method(rows: list[dict[str, str]], path: Path) -> None:
    """Teacher and student F1 per method (each at its largest n-shot), one panel per dataset."""
    fig, panels = _panels(rows, 4.2)
    for ax, dataset, subset in panels:
        names = [m for m in METHODS if any(r["method"] == m for r in subset)]
        shots = {m: max(int(r["n_shot"]) for r in subset if r["method"] == m) for m in names}
        pick = lambda m, col: _mean([_f(r[col]) for r in subset
                                     if r["method"] == m and int(r["n_shot"]) == shots[m]]) or 0
        xs = range(len(names))
        ax.bar([x - 0.2 for x in xs], [pick(m, "teacher_f1") for m in names], 0.4, label="teacher")
        ax.bar([x + 0.2 for x in xs], [pick(m, "student_f1") for m in names], 0.4, label="student")
        gold = _mean([_f(r["gold_student_f1"]) for r in subset])
        if gold is not None:
            ax.axhline(gold, color="black", linestyle="--", linewidth=1, label="student on gold labels")
        ax.set_xticks(list(xs), [f"{m} ({shots[m]})" for m in names], rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"{dataset} (method (n-shot))")
        ax.set_ylabel("F1")
    panels[0][0].legend(fontsize=8)
    _save(fig, path)


def plot_f1_by_shots(rows: list[dict[str, str]], path: Path) -> None:
    """Teacher F1 against n-shot for each method that ran at several n-shot settings."""
    fig, panels = _panels(rows, 4.0)
    for ax, dataset, subset in panels:
        for name in METHODS:
            points = sorted({int(r["n_shot"]) for r in subset if r["method"] == name})
            if len(points) < 2:
                continue
            ys = [_mean([_f(r["teacher_f1"]) for r in subset if r["method"] == name and int(r["n_shot"]) == n])
                  for n in points]
            ax.plot(points, ys, marker="o", label=name)
        ax.set_title(dataset)
        ax.set_xlabel("demonstrations (n-shot)")
        ax.set_ylabel("teacher F1")
        ax.set_ylim(0, 1)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    _save(fig, path)
