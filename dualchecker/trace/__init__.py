"""Trace a run: what every agent said to every other, as an HTML report or in the terminal.

    dualchecker trace RUN_DIR                 # RUN_DIR/report.html, self-contained
    dualchecker trace RUN_DIR --record c7     # one record's timeline, printed with rich

Names are imported on first use, so the command line stays quick to start.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_report": "report",
    "RunReport": "report",
    "RecordTrace": "report",
    "TraceError": "report",
    "render_html": "html",
    "write_report": "html",
    "print_record": "terminal",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"dualchecker.trace.{_EXPORTS[name]}"), name)
