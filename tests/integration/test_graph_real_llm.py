"""The whole DualChecker graph with the real local teacher and the real MiniLM encoder.

Through langchain-openai against llama.cpp's OpenAI-compatible server, and in-process.
"""

from __future__ import annotations

import pytest

from dualchecker.adapters import GREEN_BINARY, GREEN_EFFECTS, quickstart
from dualchecker.agents.backends import BackendConfig
from dualchecker.agents.embedders import SentenceTransformerEmbedder
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
from dualchecker.runner import Run
from dualchecker.training.testing import save_tiny_student

try:
    from tests.integration.llama_server import llama_server_fixture
except ModuleNotFoundError:
    from llama_server import llama_server_fixture

pytestmark = pytest.mark.slow
llama_server = llama_server_fixture("qwen2.5-coder-0.5b", scope="module")


@pytest.fixture(scope="module")
def encoder():
    return SentenceTransformerEmbedder()


def test_full_graph_through_chat_openai_against_llama_server(tmp_path, llama_server, encoder):
    records = quickstart("green_binary")[:4]
    config = RunConfig(
        task=GREEN_BINARY,
        inputs=DataSource(path=tmp_path / "unused"),
        backend=BackendConfig(
            kind="openai", base_url=llama_server.base_url, model=llama_server.alias, max_tokens=160
        ),
        method=method("dualchecker", n_shot=1, threshold=0.5),
        student=StudentSettings(
            model=save_tiny_student(tmp_path / "tiny"),
            use_ray=False,
            epochs_per_batch=1,
            final=False,
        ),
        run=RunSettings(dir=tmp_path / "run", batch_size=2, max_concurrency=2),
    )
    run = Run(config, embedder=encoder, inputs=records, pool=records)
    summary = run.execute(progress=False)
    labelled = run.store.all()
    assert len(labelled) == 4
    answered = [r for r in labelled if r.ok]
    assert len(answered) >= 3, [r.error for r in labelled]
    assert all(r.label in ("yes", "no") and 0.0 <= r.confidence <= 1.0 for r in answered)
    assert summary.usage.input_tokens > 4 * 100 and summary.usage.output_tokens > 4 * 5
    assert summary.llm_calls >= 4 and summary.teacher is not None
    events = (tmp_path / "run" / "events.jsonl").read_text()
    assert '"batch_trained"' in events and '"borderline"' in events


def test_spans_in_process_reject_or_locate_every_quote(tmp_path, encoder):
    records = quickstart("green_effects")[:4]
    config = RunConfig(
        task=GREEN_EFFECTS,
        inputs=DataSource(path=tmp_path / "unused"),
        backend=BackendConfig(kind="local", model="qwen2.5-coder-0.5b", max_tokens=160),
        method=method("aligner+teacher-checker", n_shot=1, explain_examples=False, max_reprompts=0),
        run=RunSettings(dir=tmp_path / "run", batch_size=4, max_concurrency=1),
    )
    run = Run(config, embedder=encoder, inputs=records, pool=records, with_student=False)
    run.execute(progress=False)
    for item in run.store.all():
        if item.ok:  # every kept span is verbatim in the text
            assert item.spans and all(item.text[s.start : s.end] == s.text for s in item.spans)
        else:
            assert item.error.startswith(("parse:", "backend:"))
    assert sum(a.usage.output_tokens for r in run.store.all() for a in r.attempts) > 0
