"""The Python entry points: label texts with the teacher graph, or run a whole configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from dualchecker.agents.backends import BackendConfig, ChatBackend
from dualchecker.agents.embedders import Embedder
from dualchecker.agents.types import LabelledRecord, Task
from dualchecker.data import DataSource, to_records
from dualchecker.graph.config import MethodConfig, RunConfig, RunSettings, method
from dualchecker.runner import Run, RunSummary


def run(
    config: RunConfig | str | Path,
    *,
    llm: BaseChatModel | ChatBackend | None = None,
    embedder: Embedder | None = None,
    fresh: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> RunSummary:
    """Run (or resume) a configuration; `config` may be a YAML path."""
    if not isinstance(config, RunConfig):
        config = RunConfig.from_yaml(config)
    return Run(config, llm=llm, embedder=embedder, fresh=fresh, **kwargs).execute(progress=progress)


def label(
    task: Task,
    pool: Any,
    texts: Any,
    *,
    llm: BaseChatModel | ChatBackend | BackendConfig | None = None,
    method_config: MethodConfig | str = "dualchecker",
    run_dir: str | Path | None = None,
    embedder: Embedder | None = None,
    batch_size: int = 8,
    max_concurrency: int = 4,
    progress: bool = False,
    allow_pool_overlap: bool = False,
    **method_overrides: Any,
) -> list[LabelledRecord]:
    """Label `texts` with the teacher half of DualChecker and return the labelled records.

    `pool` (human-labelled examples) and `texts` can be lists of dicts or strings, pandas
    DataFrames or HF datasets. `llm` is any LangChain chat model, a ChatBackend or a BackendConfig.

    Raises:
        DataError: the pool shares texts with `texts` (named by id), unless `allow_pool_overlap`,
            which warns and keeps those texts out of what the pool probe and tagger train on.
    """
    import tempfile
    import warnings

    chosen = (
        method(method_config, **method_overrides)
        if isinstance(method_config, str)
        else method_config
    )
    chosen = chosen.model_copy(update={"student": False, "student_checker": False})
    pool_records = to_records(pool, task, name="pool")
    inputs = to_records(texts, task, name="texts")
    directory = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="dualchecker-"))
    config = RunConfig(
        task=task,
        inputs=DataSource(path=Path("-")),
        method=chosen,
        backend=llm if isinstance(llm, BackendConfig) else BackendConfig(),
        run=RunSettings(
            dir=directory,
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            allow_pool_overlap=allow_pool_overlap,
        ),
    )
    runner = Run(
        config,
        llm=None if isinstance(llm, BackendConfig) else llm,
        embedder=embedder,
        inputs=inputs,
        pool=pool_records,
        with_student=False,
    )
    runner.execute(progress=progress)
    labelled = runner.store.all()
    failed = [r for r in labelled if not r.ok]
    if failed:  # a None label must never pass unnoticed
        warnings.warn(
            f"{len(failed)} of {len(labelled)} records got no valid answer (their label "
            f"is None); first: {failed[0].id}: {failed[0].error}",
            stacklevel=2,
        )
    return labelled
