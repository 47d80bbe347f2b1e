"""The quickstart: full DualChecker on the packaged green-innovation data with the local model."""

from __future__ import annotations

from pathlib import Path

from dualchecker.adapters import DATASETS
from dualchecker.agents.backends import BackendConfig
from dualchecker.data import DataSource, atomic_write_text
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run, RunSummary, clear_run_dir

QUICKSTART = ("green_binary", "green_paths", "green_effects")


def demo_config(
    dataset: str, run_dir: Path, model: str, *, use_ray: bool = True
) -> tuple[RunConfig, list, list, list]:
    """DualChecker on a quickstart set, sized to be watched (about two minutes on 2 cores).

    The set's last quarter is held out for the final students; of the rest, the first 16
    records are the human-labelled pool (calibration and demonstrations) and the others are
    labelled by the teacher in three batches, the student training after each.
    """
    task, loader = DATASETS[dataset]
    train, held_out = loader(Path("."))
    pool, inputs = train[:DEMO_POOL], train[DEMO_POOL:]
    held_path = run_dir / "held_out.jsonl"
    atomic_write_text(held_path, "".join(r.model_dump_json() + "\n" for r in held_out))
    config = RunConfig(
        task=task,
        inputs=DataSource(path=Path("-")),
        backend=BackendConfig(kind="local", model=model, max_tokens=200),
        method=method("dualchecker", n_shot=2, calibration_size=DEMO_POOL, max_reprompt_rate=0.4),
        student=StudentSettings(
            use_ray=use_ray,
            epochs_per_batch=2,
            replay=8,
            final_epochs=8,
            learning_rate=1e-4,
            eval=DataSource(path=held_path),
        ),
        run=RunSettings(dir=run_dir, batch_size=8, max_concurrency=1),
    )
    return config, pool, inputs, held_out


DEMO_POOL = 16


def run_demo(
    dataset: str = "green_binary",
    run_dir: Path = Path("runs/quickstart"),
    model: str = "qwen2.5-coder-0.5b",
    *,
    fresh: bool = False,
    progress: bool = True,
    use_ray: bool = True,
) -> RunSummary:
    """Run the quickstart on one dataset under ``run_dir/<dataset>`` and write its HTML trace
    (`fresh` starts over, keeping the LLM cache)."""
    run_dir = Path(run_dir) / dataset
    if fresh:
        clear_run_dir(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config, pool, inputs, _ = demo_config(dataset, run_dir, model, use_ray=use_ray)
    summary = Run(config, inputs=inputs, pool=pool).execute(progress=progress)
    from dualchecker.trace.html import write_report

    summary.outputs["trace"] = str(write_report(run_dir))
    return summary
