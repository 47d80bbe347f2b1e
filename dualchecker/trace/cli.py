"""`dualchecker trace RUN_DIR`: write the HTML report, or print one record's timeline."""

from __future__ import annotations

from pathlib import Path

import typer

from dualchecker.errors import DualCheckerError


def trace(
    run_dir: Path = typer.Argument(..., help="A run directory (holds events.jsonl)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write the report (default RUN_DIR/report.html)."
    ),
    record: str | None = typer.Option(
        None, "--record", "-r", help="Print this record's timeline in the terminal instead."
    ),
    prompts: bool | None = typer.Option(
        None,
        "--prompts/--no-prompts",
        help="Include prompts and replies (default: yes in the report, no in the terminal).",
    ),
) -> None:
    """Trace a run: a self-contained HTML report (viewable offline), or one record's timeline."""
    try:
        if record is not None:
            from dualchecker.trace.report import load_report
            from dualchecker.trace.terminal import print_record

            print_record(load_report(run_dir), record, prompts=bool(prompts))
            return
        from dualchecker.trace.html import write_report

        path = write_report(run_dir, out, prompts=prompts is not False)
    except DualCheckerError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"report: {path}")
