"""`dualchecker` command line: label, draw the graph, show a prompt."""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
from pathlib import Path

import typer

from dualchecker.errors import DualCheckerError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="DualChecker: distil an LLM into a small student without its hallucinations.",
)


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.callback()
def main(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log at INFO level, library load reports included."
    ),
) -> None:
    """Set up logging for every command; without --verbose, noisy libraries log errors only.

    A crash inside a native library (llama.cpp, torch) prints every thread's Python stack, so a
    long run that dies says where, instead of a bare "Segmentation fault"."""
    if sys.__stderr__ is not None:  # the process's own stderr, even under a captured sys.stderr
        faulthandler.enable(file=sys.__stderr__, all_threads=True)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if verbose:
        os.environ["DUALCHECKER_VERBOSE"] = "1"  # Ray workers inherit it
    else:  # libraries' notices and progress bars that are not the user's problem
        for noisy in ("sentence_transformers", "transformers", "httpx", "ray"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars on every model load


@app.command()
def label(
    config: Path = typer.Argument(..., exists=True, help="Run configuration (YAML)."),
    fresh: bool = typer.Option(False, help="Discard the run dir's progress and start over."),
    run_dir: Path | None = typer.Option(None, help="Override run.dir from the config."),
    limit: int | None = typer.Option(None, help="Label only the first N input records."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Estimate LLM calls, tokens and cost; call no model."
    ),
    reprompt_rate: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Dry run: share of teacher answers assumed unsure "
        "(default: the method's re-prompt cap, or 0.1).",
    ),
) -> None:
    """Label a dataset with the DualChecker graph; re-running the same command resumes it."""
    from dualchecker.graph.config import RunConfig
    from dualchecker.runner import Run, estimate, format_estimate, format_summary

    try:
        cfg = RunConfig.from_yaml(config)
        if run_dir is not None:
            cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"dir": run_dir})})
        if limit is not None:
            cfg = cfg.model_copy(update={"inputs": cfg.inputs.model_copy(update={"limit": limit})})
        if dry_run:
            typer.echo(format_estimate(estimate(cfg, reprompt_rate=reprompt_rate)))
            return
        summary = Run(cfg, fresh=fresh).execute(progress=progress)
    except DualCheckerError as exc:
        _fail(exc)
    typer.echo(format_summary(summary))


@app.command()
def graph(
    config: Path | None = typer.Argument(None, help="Draw this configuration's graph."),
    student: bool = typer.Option(True, help="Include the student side."),
) -> None:
    """Print the state machine as Mermaid (paste into any Mermaid renderer)."""
    from dualchecker.graph.build import draw_mermaid
    from dualchecker.graph.config import RunConfig

    try:
        method = RunConfig.from_yaml(config).method if config else None
    except DualCheckerError as exc:
        _fail(exc)
    typer.echo(draw_mermaid(method, student=student if method is None else method.student))


@app.command()
def prompt(
    config: Path = typer.Argument(..., exists=True),
    record: str = typer.Option(..., "--record", help="Record id."),
    reprompt: bool = typer.Option(False, help="Show the re-prompt instead."),
) -> None:
    """Print the exact teacher prompt for one record (rationales are generated if needed)."""
    from dualchecker.data import load_records
    from dualchecker.graph.config import RunConfig
    from dualchecker.runner import Run

    try:
        cfg = RunConfig.from_yaml(config)
        inputs = load_records(cfg.inputs, cfg.task)  # check the id before loading any model
        ids = [r.id for r in inputs]
        if record not in ids:
            shown = ", ".join(ids[:10]) + (f", … ({len(ids)} in all)" if len(ids) > 10 else "")
            raise DualCheckerError(f"no record {record!r} in the inputs; ids are: {shown}")
        run = Run(cfg, inputs=inputs, with_student=False)
        rec = run.ctx.records[record]
        k = run.ctx.method.reprompt_k if reprompt else run.ctx.method.n_shot
        demos = run.ctx.demonstrations.pick(rec, [], k)
        messages = run.ctx.teacher.messages(rec, demos, reprompt=reprompt)
    except DualCheckerError as exc:
        _fail(exc)
    for message in messages:
        typer.echo(f"--- {message['role']} ---\n{message['content']}")


@app.command()
def demo(
    dataset: str = typer.Option("green_binary", help="green_binary | green_paths | green_effects"),
    model: str = typer.Option("qwen2.5-coder-0.5b", help="Local model name or a GGUF path."),
    run_dir: Path = typer.Option(Path("runs/quickstart"), help="Where runs are written."),
    fresh: bool = typer.Option(False, help="Start over instead of resuming."),
    ray: bool = typer.Option(True, help="Train the student in a Ray actor."),
    progress: bool = typer.Option(True, help="Show progress bars and what each phase does."),
) -> None:
    """Run DualChecker end to end on packaged data with the embedded local LLM (no API key)."""
    from dualchecker.demo import QUICKSTART, run_demo
    from dualchecker.runner import format_summary

    if dataset not in QUICKSTART:
        _fail(DualCheckerError(f"unknown quickstart dataset {dataset!r}; choose from {QUICKSTART}"))
    try:
        summary = run_demo(dataset, run_dir, model, fresh=fresh, use_ray=ray, progress=progress)
    except DualCheckerError as exc:
        _fail(exc)
    typer.echo(format_summary(summary))


@app.command()
def experiment(
    config: Path = typer.Argument(..., exists=True, help="Grid configuration (YAML)."),
    progress: bool = typer.Option(
        True, help="Show progress bars: the grid, each cell's records, the students' epochs."
    ),
    dataset: list[str] = typer.Option(
        [], help="Run only this dataset of the grid (by name; repeatable)."
    ),
    method: list[str] = typer.Option(
        [], help="Run only this method of the grid (by name; repeatable)."
    ),
    seed: list[int] = typer.Option([], help="Run only this seed of the grid (repeatable)."),
) -> None:
    """Run a grid of methods × n-shot × seeds × datasets; writes results.csv/.md and plots."""
    from dualchecker.experiment import Experiment, GridConfig

    try:
        grid = GridConfig.from_yaml(config)
        if dataset or method or seed:  # a part of the grid; the reports still show all of it
            Experiment(grid.only(dataset, method, seed)).run(progress=progress, report=grid)
        else:
            Experiment(grid).run(progress=progress)
    except DualCheckerError as exc:
        _fail(exc)
    typer.echo((Path(grid.out_dir) / "results.md").read_text())
    typer.echo(
        f"results: {grid.out_dir}/results.csv, results.md, f1_by_method.png, f1_by_shots.png"
    )


@app.command()
def export(
    run_dir: Path = typer.Argument(..., exists=True),
    attempts: bool = typer.Option(False, help="Include every attempt's prompt and reply."),
) -> None:
    """Print a run's labelled records as JSONL (from its results table)."""
    from dualchecker.graph.store import ResultStore

    if not (run_dir / "results.sqlite").is_file():
        _fail(DualCheckerError(f"{run_dir} is not a run directory (it has no results.sqlite)"))
    for item in ResultStore(run_dir / "results.sqlite").all():
        typer.echo(item.model_dump_json(exclude=None if attempts else {"attempts"}))


from dualchecker.trace.cli import trace  # noqa: E402  (imports its work lazily)

app.command()(trace)


if __name__ == "__main__":
    app()
