"""The run's results table (SQLite): one row per record, upserted, so a replayed step is harmless."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dualchecker.agents.llm_cache import AgentUsage
from dualchecker.agents.types import LabelledRecord


class ResultStore:
    """Labelled records by id, plus a small key/value table for run metadata."""

    def __init__(self, path: Path | None):
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        with self._conn:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, seq INTEGER, body TEXT)"
            )
            self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS synthetic (id TEXT PRIMARY KEY, body TEXT)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS usage (agent TEXT PRIMARY KEY, body TEXT)"
            )

    def upsert(self, items: list[LabelledRecord], order: dict[str, int]) -> None:
        """Insert or replace the records, each at its position in `order` (-1 when absent)."""
        rows = [(item.id, order.get(item.id, -1), item.model_dump_json()) for item in items]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", rows)

    def all(self) -> list[LabelledRecord]:
        """Every labelled record, in labelling order."""
        with self._lock:
            rows = self._conn.execute("SELECT body FROM results ORDER BY seq").fetchall()
        return [LabelledRecord.model_validate_json(body) for (body,) in rows]

    def get(self, record_id: str) -> LabelledRecord | None:
        """The stored record with this id, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM results WHERE id = ?", (record_id,)
            ).fetchone()
        return LabelledRecord.model_validate_json(row[0]) if row else None

    def ids(self) -> set[str]:
        """The ids of the records stored so far."""
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT id FROM results")}

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def add_synthetic(self, items: list[LabelledRecord]) -> None:
        """LLM-written training samples (EvoKD); kept apart from the labelled records."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO synthetic VALUES (?, ?)",
                [(item.id, item.model_dump_json()) for item in items],
            )

    def synthetic(self) -> list[LabelledRecord]:
        """The LLM-written training samples, in the order they were stored."""
        with self._lock:
            rows = self._conn.execute("SELECT body FROM synthetic ORDER BY rowid").fetchall()
        return [LabelledRecord.model_validate_json(body) for (body,) in rows]

    def add_usage(self, agent: str, entry: AgentUsage) -> None:
        """Add one call's bill to the run's running total for `agent` (across processes)."""
        with self._lock, self._conn:
            row = self._conn.execute("SELECT body FROM usage WHERE agent = ?", (agent,)).fetchone()
            total = (AgentUsage.model_validate_json(row[0]) if row else AgentUsage()) + entry
            self._conn.execute(
                "INSERT OR REPLACE INTO usage VALUES (?, ?)", (agent, total.model_dump_json())
            )

    def usage_by_agent(self) -> dict[str, AgentUsage]:
        """Every LLM call of the whole run, by agent, whatever process made it."""
        with self._lock:
            rows = self._conn.execute("SELECT agent, body FROM usage ORDER BY agent").fetchall()
        return {agent: AgentUsage.model_validate_json(body) for agent, body in rows}

    def get_meta(self, key: str) -> str | None:
        """The run metadata stored under `key`, or None."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store (or overwrite) run metadata under `key`."""
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
