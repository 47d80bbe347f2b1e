"""What LLM calls cost, and how not to pay twice: a persistent call cache and a per-agent ledger.

`SQLiteLLMCache` is a LangChain `BaseCache`: set it on any chat model (``model.cache = cache``) and
LangChain looks every call up by the serialised prompt and the model's ``llm_string`` (class, model
name, base URL, temperature, structured-output format, ...) before sending it. A hit comes back
marked ``response_metadata["cache_hit"] = True`` so `ChatBackend` can count it apart from real
calls. Each reply is committed as soon as it arrives, so a killed run loses at most the calls that
were in flight. Replies are replayed as they were: with ``temperature > 0`` the same prompt gets
the same sample, so switch the cache off where fresh samples matter.

`CallLedger` counts, per agent (aligner rationales, teacher answers, student-checker feedback),
real calls, cache hits, the tokens spent and the tokens the cache saved; `TokenPrice` turns tokens
into dollars.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation
from pydantic import BaseModel, ConfigDict, Field

from dualchecker.agents.types import Usage

SCHEMA = """CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY, llm_hash TEXT NOT NULL, value TEXT NOT NULL, created REAL NOT NULL,
    seconds REAL)"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _dump_generation(gen: Generation) -> dict[str, Any]:
    if isinstance(gen, ChatGeneration):
        return {"message": message_to_dict(gen.message), "info": gen.generation_info}
    return {"text": gen.text, "info": gen.generation_info}


def _load_generation(data: dict[str, Any], seconds: float | None) -> Generation:
    if "message" not in data:
        return Generation(text=data["text"], generation_info=data.get("info"))
    message = messages_from_dict([data["message"]])[0]
    hit = {"cache_hit": True, "cached_seconds": seconds}
    message = message.model_copy(update={"response_metadata": {**message.response_metadata, **hit}})
    return ChatGeneration(message=message, generation_info=data.get("info"))


class SQLiteLLMCache(BaseCache):
    """LLM replies in one SQLite file, safe to share between threads and processes.

    Args:
        path: The database file (created with its folder). Several runs may share one file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=60)
        self._conn.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        self._conn.execute(
            "PRAGMA synchronous=NORMAL"
        )  # survives a killed process; no fsync per call
        with self._conn:
            self._conn.execute(SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(llm_cache)")}
            if "seconds" not in columns:  # a cache written before replies kept their time
                self._conn.execute("ALTER TABLE llm_cache ADD COLUMN seconds REAL")
        self._lock = threading.Lock()
        # A miss is looked up just before its call is made and stored just after: the time in
        # between is what the call took, kept so that a later hit can say what it saved.
        self._missed_at: dict[str, float] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(prompt: str, llm_string: str) -> str:
        """The row key: a SHA-256 of the model's identity and the serialised prompt."""
        return _digest(_digest(llm_string) + "\n" + prompt)

    def lookup(self, prompt: str, llm_string: str) -> list[Generation] | None:
        """The cached generations for this prompt and model, or None (counted as a miss)."""
        key = self.key(prompt, llm_string)
        with self._lock:
            row = self._conn.execute(
                "SELECT value, seconds FROM llm_cache WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                self.misses += 1
                self._missed_at[key] = time.perf_counter()
                return None
            self.hits += 1
        return [_load_generation(item, row[1]) for item in json.loads(row[0])]

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        """Store a reply; committed at once so a kill right after loses nothing."""
        value = json.dumps([_dump_generation(g) for g in return_val], ensure_ascii=False)
        key = self.key(prompt, llm_string)
        with self._lock, self._conn:
            missed_at = self._missed_at.pop(key, None)
            seconds = time.perf_counter() - missed_at if missed_at is not None else None
            row = (key, _digest(llm_string), value, time.time(), seconds)
            self._conn.execute("INSERT OR REPLACE INTO llm_cache VALUES (?, ?, ?, ?, ?)", row)

    def clear(self, **kwargs: Any) -> None:
        """Delete every stored reply, for all models."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM llm_cache")

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0]

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()


class TokenPrice(BaseModel):
    """Dollars per million tokens for one model."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    input_per_mtok: float = Field(ge=0)
    """$ per 1M prompt tokens."""
    output_per_mtok: float = Field(ge=0)
    """$ per 1M completion tokens."""

    def cost(self, usage: Usage) -> float:
        """What `usage` costs in dollars."""
        return (
            usage.input_tokens * self.input_per_mtok + usage.output_tokens * self.output_per_mtok
        ) / 1_000_000


class AgentUsage(BaseModel):
    """One agent's LLM bill: real calls and their tokens, and what the cache answered instead."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    calls: int = 0
    cache_hits: int = 0
    usage: Usage = Field(default_factory=Usage)
    cached_usage: Usage = Field(default_factory=Usage)
    """Tokens the cache saved."""
    cached_seconds: float = 0.0
    """Seconds the cache saved: what its hits took when first made."""
    cost_usd: float | None = None

    def __add__(self, other: AgentUsage) -> AgentUsage:
        return AgentUsage(
            calls=self.calls + other.calls,
            cache_hits=self.cache_hits + other.cache_hits,
            usage=self.usage + other.usage,
            cached_usage=self.cached_usage + other.cached_usage,
            cached_seconds=self.cached_seconds + other.cached_seconds,
        )

    def priced(self, price: TokenPrice | None) -> AgentUsage:
        """A copy with `cost_usd` set from the real calls' tokens (unchanged without a price)."""
        return (
            self if price is None else self.model_copy(update={"cost_usd": price.cost(self.usage)})
        )


class CallLedger:
    """Thread-safe per-agent counts of calls, cache hits and tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._agents: dict[str, AgentUsage] = {}
        # Also told of every call, e.g. a run's results store, so that a resumed run's bill
        # covers the processes before it.
        self.sink: Callable[[str, AgentUsage], None] | None = None

    def record(
        self, agent: str, usage: Usage, *, cached: bool, saved_seconds: float | None = None
    ) -> None:
        """Book one call under `agent` (a cache hit counts its tokens, and the seconds the call
        once took, as saved) and tell the sink."""
        entry = (
            AgentUsage(cache_hits=1, cached_usage=usage, cached_seconds=saved_seconds or 0.0)
            if cached
            else AgentUsage(calls=1, usage=usage)
        )
        with self._lock:
            self._agents[agent] = self._agents.get(agent, AgentUsage()) + entry
        if self.sink is not None:
            self.sink(agent, entry)

    def by_agent(self) -> dict[str, AgentUsage]:
        """A snapshot of each agent's counts, sorted by agent name."""
        with self._lock:
            return dict(sorted(self._agents.items()))

    def total(self) -> AgentUsage:
        """All agents' counts added together (unpriced)."""
        return sum(self.by_agent().values(), AgentUsage())
