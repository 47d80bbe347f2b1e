"""The persistent LLM cache, per-agent accounting, the rate limit and the dry-run estimate."""

from __future__ import annotations

import time

import pytest

from dualchecker.agents.answers import RATIONALE_SCHEMA
from dualchecker.agents.backends import BackendConfig, ChatBackend, make_backend
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.llm_cache import SQLiteLLMCache, TokenPrice
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run, estimate
from tests.fakes import BINARY, is_rationale_prompt, records, scripted_teacher

MESSAGES = [{"role": "user", "content": "Text: we cut emissions"}]
CLAIMS = records(
    [
        (
            f"c{i}",
            f"Claim number {i}: we cut {'carbon' if i % 2 else 'costs'} by {i} percent.",
            "yes" if i % 2 else "no",
        )
        for i in range(12)
    ]
)


def answer(text: str, reprompt: bool) -> dict:
    return {"label": "yes" if "carbon" in text else "no", "confidence": 90, "rationale": "r"}


def test_a_repeated_call_is_a_cache_hit_and_is_counted_apart(tmp_path):
    model = scripted_teacher(answer)
    backend = ChatBackend(model)
    backend.use_cache(SQLiteLLMCache(tmp_path / "cache.sqlite"))
    first = backend.for_agent("aligner").complete(MESSAGES, RATIONALE_SCHEMA)
    again = backend.for_agent("aligner").complete(MESSAGES, RATIONALE_SCHEMA)
    assert (first.cached, again.cached) == (False, True) and first.text == again.text
    assert len(model.prompts) == 1
    aligner = backend.ledger.by_agent()["aligner"]
    assert (aligner.calls, aligner.cache_hits) == (1, 1)
    assert aligner.cached_usage == aligner.usage and backend.calls == 1 and backend.cache_hits == 1


def test_a_hit_counts_the_seconds_its_call_took_when_it_was_made(tmp_path):
    slow = lambda text, reprompt: (time.sleep(0.3), answer(text, reprompt))[1]
    backend = ChatBackend(scripted_teacher(slow))
    backend.use_cache(SQLiteLLMCache(tmp_path / "cache.sqlite"))
    first = backend.for_agent("teacher").complete(MESSAGES)
    again = backend.for_agent("teacher").complete(MESSAGES)
    teacher = backend.ledger.by_agent()["teacher"]
    assert not first.cached and again.cached
    assert 0.3 <= teacher.cached_seconds <= first.seconds


def test_a_cache_written_before_replies_kept_their_time_still_answers(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    backend = ChatBackend(scripted_teacher(answer))
    backend.use_cache(SQLiteLLMCache(path))
    backend.complete(MESSAGES)
    with sqlite3.connect(path) as old:  # the table as it was: no seconds column
        old.execute("CREATE TABLE t AS SELECT key, llm_hash, value, created FROM llm_cache")
        old.execute("DROP TABLE llm_cache")
        old.execute("ALTER TABLE t RENAME TO llm_cache")
    reopened = ChatBackend(scripted_teacher(answer))
    reopened.use_cache(SQLiteLLMCache(path))
    assert reopened.for_agent("teacher").complete(MESSAGES).cached
    assert reopened.ledger.by_agent()["teacher"].cached_seconds == 0.0  # unknown, not invented
    reopened.for_agent("teacher").complete([{"role": "user", "content": "Text: new"}])
    assert len(SQLiteLLMCache(path)) == 2  # new replies are stored in the migrated table


def test_the_cache_survives_the_process_and_keys_on_the_request(tmp_path):
    path = tmp_path / "cache.sqlite"
    writer = ChatBackend(scripted_teacher(answer))
    writer.use_cache(SQLiteLLMCache(path))
    writer.complete(MESSAGES)
    fresh = scripted_teacher(answer)
    reopened = ChatBackend(fresh)
    reopened.use_cache(SQLiteLLMCache(path))
    assert reopened.complete(MESSAGES).cached and not fresh.prompts
    other = ChatBackend(scripted_teacher(answer), structured="tools")
    other.use_cache(SQLiteLLMCache(path))
    assert not other.complete(MESSAGES, RATIONALE_SCHEMA).cached  # tool binding changes the key


def make_run(tmp_path, name: str, llm, **settings) -> Run:
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        method=method("aligner+teacher-checker", n_shot=2, student=False),
        run=RunSettings(dir=tmp_path / name, batch_size=4, max_concurrency=4, **settings),
        prices={"scripted": TokenPrice(input_per_mtok=1.0, output_per_mtok=2.0)},
    )
    return Run(
        config,
        llm=ChatBackend(llm, name="scripted"),
        embedder=HashingEmbedder(),
        inputs=CLAIMS,
        pool=CLAIMS,
        with_student=False,
    )


def test_a_fresh_run_dir_with_the_same_cache_makes_no_llm_calls(tmp_path):
    shared = dict(llm_cache=True, llm_cache_path=tmp_path / "shared.sqlite")
    first_llm = scripted_teacher(answer)
    first = make_run(tmp_path, "one", first_llm, **shared).execute(progress=False)
    assert first.llm_calls == len(first_llm.prompts) > len(CLAIMS) and first.cache_hits == 0
    again_llm = scripted_teacher(answer)
    again = make_run(tmp_path, "two", again_llm, **shared).execute(progress=False)
    assert again.llm_calls == 0 and not again_llm.prompts
    assert again.cache_hits == first.llm_calls and again.labelled == len(CLAIMS)


def test_the_summary_splits_calls_tokens_and_cost_by_agent(tmp_path):
    llm = scripted_teacher(answer)
    summary = make_run(tmp_path, "run", llm).execute(progress=False)
    agents = summary.by_agent
    rationales = sum(is_rationale_prompt(p) for p in llm.prompts)
    assert agents["aligner"].calls == rationales and agents["teacher"].calls == len(CLAIMS)
    assert summary.llm_calls == sum(a.calls for a in agents.values()) == len(llm.prompts)
    assert summary.usage.input_tokens == sum(a.usage.input_tokens for a in agents.values()) > 0
    expected = (summary.usage.input_tokens * 1.0 + summary.usage.output_tokens * 2.0) / 1e6
    assert summary.cost_usd == pytest.approx(expected)
    assert not (
        tmp_path / "run" / "llm_cache.sqlite"
    ).exists()  # a model passed in keeps its own cache


def test_a_config_built_backend_caches_in_the_run_dir(tmp_path):
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        backend=BackendConfig(
            kind="scripted", params={"rules": [{"replies": ['{"label": "no", "confidence": 90}']}]}
        ),
        method=method("zero-shot", student=False),
        run=RunSettings(dir=tmp_path / "run"),
    )
    run = Run(config, inputs=CLAIMS[:3], pool=CLAIMS[:3], with_student=False)
    assert run.cache is not None and run.cache.path == tmp_path / "run" / "llm_cache.sqlite"
    run.execute(progress=False)
    assert len(run.cache) == 3


def test_rate_limit_spaces_calls(tmp_path):
    backend = make_backend(
        BackendConfig(
            kind="scripted", requests_per_second=20, params={"rules": [{"replies": ["{}"]}]}
        )
    )
    started = time.perf_counter()
    for i in range(6):
        backend.complete([{"role": "user", "content": f"call {i}"}])
    assert time.perf_counter() - started >= 0.2  # 6 calls at 20/s: at least 5 gaps of 50 ms


@pytest.mark.parametrize(
    "name, rate, per_record",
    [
        ("zero-shot", 0.5, 1.0),
        ("aligner", 0.5, 1.0),
        ("aligner+teacher-checker", 0.0, 1.0),
        ("aligner+teacher-checker", 1.0, 2.0),
    ],
)
def test_dry_run_counts_the_calls_each_method_makes(tmp_path, name, rate, per_record):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(r.model_dump_json() + "\n" for r in CLAIMS))
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=inputs),
        method=method(name, n_shot=2, student=False),
        run=RunSettings(dir=tmp_path / "run"),
    )
    est = estimate(config, reprompt_rate=rate, embedder=HashingEmbedder())
    assert est.records == len(CLAIMS)
    assert est.by_agent["teacher"].calls == per_record * len(CLAIMS)
    assert ("aligner" in est.by_agent) == (name != "zero-shot")
    assert est.usage.input_tokens > 0 and not (tmp_path / "run").exists()
