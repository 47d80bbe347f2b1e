"""Typed events: every message between agents, appended to the run's JSONL as it happens.

A crash loses nothing already written (each line is flushed). Secrets never enter an event: only
prompts, replies, decisions and numbers do.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dualchecker.agents.types import Usage

Agent = Literal[
    "runner", "calibration", "aligner", "teacher", "teacher_checker", "student", "student_checker"
]


class Event(BaseModel):
    """One thing an agent did or said, numbered by `seq` within the run; `data` holds the rest."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    run_id: str
    seq: int
    """Order within the run: events are numbered as they are written."""
    ts: float
    """Unix time when the event was recorded."""
    agent: Agent
    kind: str
    """What happened, e.g. the teacher's ``answer`` or the teacher checker's ``final``."""
    record_id: str | None = None
    """The record it concerns; None for run- and batch-level events."""
    batch: int | None = None
    seconds: float | None = None
    """Wall time the agent spent on it, when it called a model."""
    usage: Usage | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class EventLog:
    """Append-only, thread-safe JSONL event sink; `path=None` keeps events in memory only."""

    def __init__(self, path: Path | None, run_id: str):
        self.path, self.run_id = path, run_id
        self._lock = threading.Lock()
        self._seq = 0
        self.memory: list[Event] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._seq = sum(1 for _ in path.open(encoding="utf-8")) if path.exists() else 0
            self._handle = path.open("a", encoding="utf-8")

    def emit(
        self,
        agent: Agent,
        kind: str,
        *,
        record_id: str | None = None,
        batch: int | None = None,
        seconds: float | None = None,
        usage: Usage | None = None,
        **data: Any,
    ) -> Event:
        """Record one event under the next sequence number, written and flushed at once."""
        with self._lock:
            event = Event(
                run_id=self.run_id,
                seq=self._seq,
                ts=time.time(),
                agent=agent,
                kind=kind,
                record_id=record_id,
                batch=batch,
                seconds=seconds,
                usage=usage,
                data=data,
            )
            self._seq += 1
            if self.path is None:
                self.memory.append(event)
            else:
                self._handle.write(event.model_dump_json() + "\n")
                self._handle.flush()
        return event

    def close(self) -> None:
        """Close the JSONL file (safe to call twice; nothing to do in memory)."""
        if self.path is not None and not self._handle.closed:
            self._handle.close()


def read_events(path: Path) -> list[Event]:
    """All events of a run, skipping a torn last line left by a kill."""
    events = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                events.append(Event.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValueError):
                continue
    return events
