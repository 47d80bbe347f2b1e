"""Experiment grids: datasets × methods × n-shot × seeds, each cell one DualChecker run.

Every cell is an ordinary run directory (so it resumes), results are appended to a CSV as cells
finish (so an interrupted grid picks up where it stopped), and the table and plots are redrawn
from that CSV and from each finished cell's per-record outputs, kept beside its run without the
data's text (`grid_report.keep_cell`): a grid's results can be kept without its run
directories. The gold-label student is trained once per dataset and seed: it is the reference
every method's student is compared with.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import time
from pathlib import Path
from typing import Any, Literal

import yaml
from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dualchecker.adapters import load_dataset, preset_split
from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.backends import BackendConfig, make_backend
from dualchecker.agents.embedders import Embedder
from dualchecker.agents.types import Record, Task
from dualchecker.compose import make_embedder
from dualchecker.data import DataSource, atomic_write_text, load_records
from dualchecker.errors import ConfigError
from dualchecker.events import read_events
from dualchecker.graph.config import (
    METHODS,
    RetrievalConfig,
    RunConfig,
    RunSettings,
    StudentSettings,
    method,
)
from dualchecker.grid_report import gold_student_answers, keep_cell, write_reports
from dualchecker.kept import write_records
from dualchecker.runner import Run, check_disjoint
from dualchecker.training.progress import progress_bar, progress_bars

log = logging.getLogger(__name__)

COLUMNS = [
    "dataset",
    "kind",
    "method",
    "n_shot",
    "seed",
    "config",
    "cell",
    "records",
    "teacher_f1",
    "teacher_precision",
    "teacher_recall",
    "student_f1",
    "gold_student_f1",
    "llm_calls",
    "cache_hits",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cached_output_tokens",
    "seconds",
    "cached_seconds",
    "reprompt_rate",
    "failed",
    "synthetic",
    "human_labels_read",
    "human_labels_used",
]
# With no demonstrations these methods are the same prompt as zero-shot: not run at 0-shot.
NEEDS_SHOTS = {
    "few-shot",
    "aligner",
    "aligner+teacher-checker",
    "aligner+student-checker",
    "dualchecker",
}
ZERO_SHOT_ONLY = {"zero-shot"}
PRIORITY = [
    "zero-shot",
    "dualchecker",
    "dtot",
    "cot",
    "aligner",
    "aligner+teacher-checker",
    "evokd",
    "aligner+student-checker",
    "few-shot",
]


class DatasetSpec(BaseModel):
    """One dataset of the grid: a preset name (``adapters.DATASETS``), or any files described here.

    A spec names the task (inline, or a YAML file holding one), the records the teacher labels,
    the human pool (default: the labelled records themselves, leave-one-out) and the evaluation
    records; ``DataSource`` renames labels (``label_map``) and span types (``span_type_map``).
    ``size``/``eval_size`` draw seeded samples.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    name: str
    size: int | None = Field(None, gt=0)
    """Records the teacher labels (sampled with the seed)."""
    eval_size: int | None = Field(None, gt=0)
    """Held-out gold records for the students."""
    task: Task | Path | None = None
    """The task, or a YAML file with one (spec only)."""
    labelled: DataSource | None = None
    """Records the teacher labels (spec only)."""
    pool: DataSource | None = None
    """Human-labelled examples; default: the labelled records, leave-one-out."""
    eval: DataSource | None = None
    """Held-out records for the students."""
    human_pool: Literal["labelled", "rest"] = "labelled"
    """Presets: the human pool is the labelled records themselves, leave-one-out, or the rest of
    the preset's labelled split (disjoint from the records labelled and from the held-out texts,
    as a separate pool file must be)."""

    @model_validator(mode="after")
    def _preset_or_spec(self) -> DatasetSpec:
        spec = self.task is not None or self.labelled is not None or self.eval is not None
        if spec and (self.task is None or self.labelled is None or self.eval is None):
            raise ValueError(f"dataset {self.name!r}: a spec needs task, labelled and eval")
        if spec and self.human_pool != "labelled":
            raise ValueError(f"dataset {self.name!r}: a spec names its pool file instead")
        return self

    @property
    def is_spec(self) -> bool:
        """True for a dataset described by its files rather than by a preset name."""
        return self.labelled is not None


class GridConfig(BaseModel):
    """An experiment grid: datasets, methods, n-shots and seeds, and the settings every cell shares."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    name: str = "grid"
    out_dir: Path = Path("runs/experiment")
    data_dir: Path = Path("../shared/data")
    datasets: list[DatasetSpec]
    methods: list[str | dict[str, Any]] = Field(default_factory=lambda: list(METHODS))
    """Preset names, or {name: preset, ...overrides} for one method's own settings."""
    n_shots: list[int] = Field(default_factory=lambda: [0, 5])
    seeds: list[int] = Field(default_factory=lambda: [0])
    backend: BackendConfig = Field(default_factory=BackendConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    student: StudentSettings = Field(default_factory=StudentSettings)
    batch_size: int = 8
    max_concurrency: int = 1
    llm_cache: bool = True
    """Share one LLM call cache across the grid's cells."""
    method_overrides: dict[str, Any] = Field(default_factory=dict)
    """Applied to every method, e.g. {threshold: 0.8}."""
    inputs_gold_for_feedback: bool = False
    """Every cell's `run.inputs_gold_for_feedback`: the student checker compares the student with
    the labelled records' gold and feeds the misses back (counted in `human_labels_used`)."""
    allow_pool_overlap: bool = False
    """Every cell's `run.allow_pool_overlap`: a human pool sharing texts with the labelled records
    is warned about instead of refused."""

    @classmethod
    def from_yaml(cls, path: str | Path) -> GridConfig:
        """Load a grid from YAML; `out_dir` and `data_dir` are relative to the file.

        Raises:
            ConfigError: an invalid field or an unknown method name.
        """
        path = Path(path)
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("out_dir", "data_dir"):
            if key in raw:
                raw[key] = str(path.parent / raw[key])
        raw["datasets"] = [_relative_spec(d, path.parent) for d in raw.get("datasets") or []]
        try:
            grid = cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from None
        unknown = sorted({method_name(m) for m in grid.methods} - set(METHODS))
        if unknown:
            raise ConfigError(f"{path}: unknown methods {unknown}; known: {sorted(METHODS)}")
        return grid

    def only(
        self,
        datasets: list[str] | None = None,
        methods: list[str] | None = None,
        seeds: list[int] | None = None,
    ) -> GridConfig:
        """The same grid restricted to some of its datasets, methods and seeds, so a long grid
        can be run in parts (on different days or machines, the main methods first) into one
        results file; the cells keep their keys.

        Raises:
            ConfigError: a name that is not one of the grid's datasets or methods, or a seed
                that is not one of its seeds.
        """
        update: dict[str, Any] = {}
        for field, wanted, have in (
            ("datasets", datasets, [(d.name, d) for d in self.datasets]),
            ("methods", methods, [(method_name(m), m) for m in self.methods]),
            ("seeds", seeds, [(seed, seed) for seed in self.seeds]),
        ):
            if not wanted:
                continue
            names = [name for name, _ in have]
            unknown = sorted(set(wanted) - set(names))
            if unknown:
                raise ConfigError(f"grid {self.name!r} has no {field} {unknown}; it has {names}")
            update[field] = [item for name, item in have if name in wanted]
        return self.model_copy(update=update)


def _relative_spec(dataset: Any, base: Path) -> Any:
    """A dataset spec's file paths, taken relative to the grid's YAML file."""
    if not isinstance(dataset, dict):
        return dataset
    out = dict(dataset)
    for key in ("labelled", "pool", "eval"):
        if isinstance(out.get(key), dict) and "path" in out[key]:
            out[key] = {**out[key], "path": str(base / out[key]["path"])}
    if isinstance(out.get("task"), str):
        out["task"] = str(base / out["task"])
    return out


def method_name(entry: str | dict[str, Any]) -> str:
    """A grid method entry's preset name."""
    return entry if isinstance(entry, str) else entry.get("name", "dualchecker")


def method_overrides(entry: str | dict[str, Any]) -> dict[str, Any]:
    """A grid method entry's own settings (on top of the grid-wide `method_overrides`)."""
    return {} if isinstance(entry, str) else {k: v for k, v in entry.items() if k != "name"}


def cells(grid: GridConfig) -> list[tuple[DatasetSpec, str, int, int]]:
    """The grid's runs, the most informative first (so a grid cut short still compares the
    main methods on every dataset): by n-shot from high to low, then method, then dataset."""
    names = [method_name(m) for m in grid.methods]
    todo = [
        (ds, m, n, seed)
        for ds in grid.datasets
        for seed in grid.seeds
        for m in names
        for n in _shots(m, grid.n_shots)
    ]
    order = {name: i for i, name in enumerate(PRIORITY)}
    return sorted(
        todo,
        key=lambda c: (
            c[3],
            c[1] not in ZERO_SHOT_ONLY,
            -c[2],
            order.get(c[1], len(order)),
            grid.datasets.index(c[0]),
        ),
    )


def _shots(method: str, n_shots: list[int]) -> list[int]:
    """The n-shots a method runs at: zero-shot once, at 0, whatever the grid's n-shots (it is
    every row's paired anchor); the methods that need demonstrations only above 0."""
    if method in ZERO_SHOT_ONLY:
        return [0]
    return [n for n in n_shots if not (n == 0 and method in NEEDS_SHOTS)]


CellData = tuple[Task, list[Record], list[Record], list[Record]]
"""A cell's task, the records it labels, its human pool and its held-out records."""


def config_key(
    config: RunConfig, records: list[Record], pool: list[Record], held_out: list[Record]
) -> str:
    """A cell's provenance: the hash of its fully resolved configuration (run directory aside),
    the content of the records it labels, learns from (the human pool) and is scored on, and
    the project's version. A changed setting, a changed sample, an edited data file or a new
    version is a new key, and the cell runs again."""
    from dualchecker import __version__

    body = config.model_dump_json(exclude=_unkeyed(config))
    return hashlib.sha256(
        f"{__version__}|{body}|{records_digest(records, pool, held_out)}".encode()
    ).hexdigest()[:12]


def _unkeyed(config: RunConfig) -> dict[str, set[str]]:
    """What the key leaves out: where the run lives, the held-out file's path, and fields added
    after cells were keyed, wherever their value runs the cell as before they existed (so those
    cells keep their keys). Before `run.inputs_gold_for_feedback` the student checker always read
    the labelled records' gold: a cell with the checker keeps its key with it on, and gets a new
    one (it runs again) with it off."""
    method, run = config.method, config.run
    unkeyed = {"run": {"dir", "llm_cache_path"}, "student": {"eval"}, "method": set()}
    checker_reads_gold = method.student and method.student_checker and not method.evokd
    if run.inputs_gold_for_feedback or not checker_reads_gold:
        unkeyed["run"].add("inputs_gold_for_feedback")
    if not run.allow_pool_overlap:
        unkeyed["run"].add("allow_pool_overlap")
    if method.span_probe_model is None:
        unkeyed["method"].add("span_probe_model")
    return unkeyed


def records_digest(*parts: list[Record]) -> str:
    """A hash of every record of each part, in order (id, text, detail and gold)."""
    digest = hashlib.sha256()
    for part in parts:
        for record in part:
            digest.update(record.model_dump_json().encode() + b"\n")
        digest.update(b"\x00")
    return digest.hexdigest()


def cell_id(ds: DatasetSpec, name: str, n_shot: int, seed: int) -> str:
    """The cell's run directory name, e.g. ``green_binary__aligner-teacher-checker__5shot__seed0``."""
    return f"{ds.name}__{name.replace('+', '-')}__{n_shot}shot__seed{seed}"


def human_labels(run_dir: Path) -> dict[str, int]:
    """The labelled records' human labels a cell's student checker read, and those it fed back
    into the teacher's prompts (both 0 unless `run.inputs_gold_for_feedback`)."""
    path = run_dir / "events.jsonl"
    checks = [
        e.data
        for e in (read_events(path) if path.exists() else [])
        if e.agent == "student_checker" and e.kind == "borderline"
    ]
    return {
        "human_labels_read": sum(d.get("human_labels_read", 0) for d in checks),
        "human_labels_used": sum(d.get("human_labels_used", 0) for d in checks),
    }


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    """Append one cell's row; a file with other columns (an older version's) is first rewritten
    with today's, its rows kept and the new columns left empty, so no value lands under the
    wrong name."""
    if path.exists():
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if header != COLUMNS:
            old = _read_csv(path)
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(old)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)
        handle.flush()


class Experiment:
    """Runs the cells of a grid that are not in results.csv yet, then writes table and plots."""

    def __init__(
        self,
        grid: GridConfig,
        *,
        llm: BaseChatModel | None = None,
        embedder: Embedder | None = None,
    ):
        # One chat model for the whole grid (a local model loads once); each cell gets a fresh
        # ChatBackend on it, with the backend's structured-output method, counting its own calls.
        self.grid = grid
        self.backend = make_backend(llm if llm is not None else grid.backend)
        self.out = Path(grid.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.csv = self.out / "results.csv"
        self._embedder = embedder
        # one load per dataset and seed, shared by that seed's methods
        self._loaded: dict[tuple[str, int], CellData] = {}

    @property
    def embedder(self) -> Embedder:
        """The retrieval embedder, made on first use and shared by every cell."""
        if self._embedder is None:
            self._embedder = make_embedder(self.grid.retrieval)
        return self._embedder

    def run(
        self, *, progress: bool = True, report: GridConfig | None = None
    ) -> list[dict[str, str]]:
        """Run the cells whose configuration is not in results.csv yet (by provenance key),
        appending each, then redraw the reports; returns the rows of the current configuration.

        `report` is the whole grid when this one is a part of it (`GridConfig.only`): the
        reports then show every current row of the whole grid, not only this part's."""
        done = {
            (r["dataset"], r["method"], int(r["n_shot"]), int(r["seed"]), r.get("config"))
            for r in _read_csv(self.csv)
        }
        plans = [(cell, *self.plan(*cell)) for cell in cells(self.grid)]
        todo = [
            (cell, config, data)
            for cell, config, key, data in plans
            if (cell[0].name, cell[1], cell[2], cell[3], key) not in done
        ]
        keys = {(c[0].name, *c[1:]): key for c, _, key, _ in plans}
        with progress_bars(progress):
            gold = self.gold_students()
            with progress_bar(len(todo), "grid", unit="run") as advance:
                for done, ((ds, name, n_shot, seed), config, data) in enumerate(todo, 1):
                    key = keys[(ds.name, name, n_shot, seed)]
                    row = self._run_cell(ds, name, n_shot, seed, config, data, key, progress)
                    row["config"] = key
                    row["gold_student_f1"] = gold.get((ds.name, seed))
                    _append_csv(self.csv, row)
                    self._remember_config(row["config"], config)
                    advance(done)
        if report is None:
            rows = self.current_rows(keys)
        else:
            rows = Experiment(report, embedder=self._embedder).current_rows()
        write_reports(rows, self.out)
        return rows

    def current_rows(
        self, keys: dict[tuple[str, str, int, int], str] | None = None
    ) -> list[dict[str, str]]:
        """The rows of results.csv that this grid's configuration produces, by provenance key:
        rows of another configuration (a changed setting, another pool) stay on file, unshown.
        `keys` maps each cell (dataset name, method, n-shot, seed) to its key when the caller has
        planned them already."""
        if keys is None:
            keys = {(c[0].name, *c[1:]): self.plan(*c)[1] for c in cells(self.grid)}
        return [
            r
            for r in _read_csv(self.csv)
            if keys.get((r["dataset"], r["method"], int(r["n_shot"]), int(r["seed"])))
            == r.get("config")
        ]

    def _data(self, ds: DatasetSpec, seed: int) -> CellData:
        """(task, records to label, human pool, held-out records) for one dataset and seed."""
        if (ds.name, seed) not in self._loaded:
            self._loaded[(ds.name, seed)] = self._load(ds, seed)
        return self._loaded[(ds.name, seed)]

    def _load(self, ds: DatasetSpec, seed: int) -> CellData:
        if not ds.is_spec:
            task, labelled, held_out = load_dataset(
                ds.name, self.grid.data_dir, size=ds.size, eval_size=ds.eval_size, seed=seed
            )
            pool = labelled
            if ds.human_pool == "rest":
                # disjoint from the records labelled, and from the held-out texts (a corpus may
                # repeat a sentence across its splits; evaluation must not see it in the pool)
                _, split, _ = preset_split(ds.name, self.grid.data_dir)
                taken = {normalise_text(r.text) for r in labelled + held_out}
                pool = [r for r in split if normalise_text(r.text) not in taken]
            return task, labelled, pool, held_out
        task = (
            ds.task
            if isinstance(ds.task, Task)
            else Task.model_validate(yaml.safe_load(Path(ds.task).read_text(encoding="utf-8")))
        )
        rng = random.Random(seed)
        labelled = load_records(ds.labelled, task)
        if ds.size is not None and ds.size < len(labelled):
            labelled = rng.sample(labelled, ds.size)
        pool = load_records(ds.pool, task) if ds.pool is not None else labelled
        if ds.pool is not None:  # refused before any cell runs, as `Run` would refuse it
            check_disjoint(
                labelled,
                {f"pool of {ds.name}": pool},
                allow=self.grid.allow_pool_overlap,
                what=f"labelled records of {ds.name}",
                setting="the grid's allow_pool_overlap",
            )
        held_out = load_records(ds.eval, task)
        if ds.eval_size is not None and ds.eval_size < len(held_out):
            held_out = rng.sample(held_out, ds.eval_size)
        return task, labelled, pool, held_out

    def _entry(self, name: str) -> str | dict[str, Any]:
        return next(m for m in self.grid.methods if method_name(m) == name)

    def plan(
        self, ds: DatasetSpec, name: str, n_shot: int, seed: int
    ) -> tuple[RunConfig, str, CellData]:
        """The cell's resolved configuration, its provenance key and its data."""
        data = self._data(ds, seed)
        task, labelled, pool, held_out = data
        held_path = self.out / "data" / f"{ds.name}-seed{seed}-heldout.jsonl"
        overrides = {**self.grid.method_overrides, **method_overrides(self._entry(name))}
        config = RunConfig(
            task=task,
            inputs=DataSource(path=Path("-")),
            method=method(name, n_shot=n_shot, **overrides),
            backend=self.grid.backend,
            retrieval=self.grid.retrieval,
            student=self.grid.student.model_copy(
                update={"eval": DataSource(path=held_path), "gold_reference": False}
            ),
            run=RunSettings(
                dir=self.out / "cells" / cell_id(ds, name, n_shot, seed),
                batch_size=self.grid.batch_size,
                max_concurrency=self.grid.max_concurrency,
                seed=seed,
                llm_cache=self.grid.llm_cache,
                llm_cache_path=self.out / "llm_cache.sqlite",
                inputs_gold_for_feedback=self.grid.inputs_gold_for_feedback,
                allow_pool_overlap=self.grid.allow_pool_overlap,
            ),
        )
        return config, config_key(config, labelled, pool, held_out), data

    def _run_cell(
        self,
        ds: DatasetSpec,
        name: str,
        n_shot: int,
        seed: int,
        config: RunConfig,
        data: CellData,
        key: str,
        progress: bool = False,
    ) -> dict[str, Any]:
        task, labelled, pool, held_out = data
        held_path = config.student.eval.path
        atomic_write_text(held_path, "".join(r.model_dump_json() + "\n" for r in held_out))
        started = time.perf_counter()
        # a cell run under an earlier configuration starts over; the shared LLM cache still
        # answers the calls it has in common
        stale = self._stale(config, key)
        atomic_write_text(Path(config.run.dir) / "provenance.txt", key + "\n")
        run = Run(
            config,
            llm=self.backend.fresh(),
            embedder=self.embedder,
            inputs=labelled,
            pool=pool,
            fresh=stale,
        )
        # the cell's records, each as it is labelled, in a bar named after the cell
        summary = run.execute(progress=progress, title=Path(config.run.dir).name)
        keep_cell(Path(config.run.dir))  # what the report reads: no text, no run files
        teacher = summary.teacher or {}
        student = summary.student or {}
        cached = sum(
            (a.cached_usage for a in summary.by_agent.values()), start=type(summary.usage)()
        )
        return {
            "dataset": ds.name,
            "kind": task.kind.value,
            "method": name,
            "n_shot": n_shot,
            "seed": seed,
            "cell": str(Path(config.run.dir).relative_to(self.out)),
            "records": summary.records,
            "teacher_f1": teacher.get("f1"),
            "teacher_precision": teacher.get("precision"),
            "teacher_recall": teacher.get("recall"),
            "student_f1": student.get("teacher_labels", {}).get("f1"),
            "llm_calls": summary.llm_calls,
            "cache_hits": summary.cache_hits,
            "input_tokens": summary.usage.input_tokens,
            "output_tokens": summary.usage.output_tokens,
            "cached_input_tokens": cached.input_tokens,
            "cached_output_tokens": cached.output_tokens,
            # this process's time, and what killed processes spent on the cell before it resumed
            "seconds": round(time.perf_counter() - started + run.seconds_before, 1),
            "cached_seconds": round(summary.cached_seconds, 1),
            "reprompt_rate": summary.reprompt_rate,
            "failed": summary.failed,
            "synthetic": student.get("synthetic", 0),
            **human_labels(Path(config.run.dir)),
        }

    @staticmethod
    def _stale(config: RunConfig, key: str) -> bool:
        """True when the cell's directory holds a run of another configuration."""
        saved = Path(config.run.dir) / "provenance.txt"
        if saved.exists():
            return saved.read_text().strip() != key
        return (Path(config.run.dir) / "results.sqlite").exists()  # from before provenance

    def _remember_config(self, key: str, config: RunConfig) -> None:
        """configs.json: each provenance key's resolved method and backend, for the table."""
        path = self.out / "configs.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        known[key] = {
            "method": config.method.model_dump(mode="json"),
            "backend": config.backend.model_dump(mode="json", exclude={"api_key"}),
            "student": config.student.model_dump(mode="json", exclude={"eval"}),
        }
        atomic_write_text(path, json.dumps(known, indent=2))

    def gold_students(self) -> dict[tuple[str, int], float]:
        """The same student trained on the human labels of the same records (once per dataset/seed),
        its held-out answers kept without their text in ``gold_students/DATASET-seedN.jsonl.gz``."""
        path = self.out / "gold_students.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        from dualchecker.agents.student import gold_examples, scored_predictions
        from dualchecker.distill import student_config
        from dualchecker.training.evaluate import train_and_evaluate

        for ds in self.grid.datasets:
            for seed in self.grid.seeds:
                key = f"{ds.name}|{seed}"
                answers = gold_student_answers(self.out, ds.name, seed)
                if key in known and answers.exists():
                    continue
                task, labelled, _, held_out = self._data(ds, seed)
                positive = task.label_names.index(task.positive) if task.positive else 1
                # the human labels of exactly the records the teacher labels
                report = train_and_evaluate(
                    student_config(task, self.grid.student, seed),
                    gold_examples(task, labelled),
                    gold_examples(task, held_out),
                    positive=positive,
                    name=f"gold-label student, {ds.name} seed {seed}",
                )
                if report.predictions:
                    write_records(answers, scored_predictions(task, held_out, report.predictions))
                known[key] = report.f1
                atomic_write_text(path, json.dumps(known, indent=2))
        return {(k.split("|")[0], int(k.split("|")[1])): v for k, v in known.items()}
