"""Fault injection through the real graph, ChatOpenAI and a local fake OpenAI-compatible server:
overlapping calls, a backend failing 30% of the time, a backend that is down, and `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest
import yaml

from dualchecker.agents.backends import BackendConfig
from dualchecker.agents.faults import BackendUnavailable
from dualchecker.data import DataSource
from dualchecker.graph.config import RetrievalConfig, RunConfig, RunSettings, method
from dualchecker.runner import Run
from tests.fakes import BINARY, teacher_answers_since_last_start
from tests.integration.fake_openai_server import FakeOpenAIServer


def write_inputs(tmp_path, n: int):
    path = tmp_path / "inputs.jsonl"
    rows = [
        {
            "id": f"r{i:03d}",
            "text": f"Record {i}: we cut {'carbon' if i % 3 else 'costs'} by {i} percent.",
            "label": "yes" if i % 3 else "no",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config_for(
    tmp_path,
    server,
    n: int,
    *,
    name="aligner+teacher-checker",
    batch_size=4,
    max_concurrency=4,
    **backend,
) -> RunConfig:
    backend = {"max_retries": 3, "timeout_s": 5.0, **backend}
    return RunConfig(
        task=BINARY,
        inputs=DataSource(path=write_inputs(tmp_path, n)),
        method=method(name, n_shot=2, student=False, student_checker=False),
        backend=BackendConfig(kind="openai", base_url=server.base_url, model="fake", **backend),
        retrieval=RetrievalConfig(kind="hashing"),
        run=RunSettings(
            dir=tmp_path / "run",
            batch_size=batch_size,
            max_concurrency=max_concurrency,
            node_retries=3,
        ),
    )


def test_a_batch_really_overlaps_its_calls(tmp_path):
    # Each answer waits until 8 requests are in flight: a client that sends fewer at once
    # leaves requests to the hold's timeout (counted); one that sends more breaks the cap.
    with FakeOpenAIServer(delay_s=0.3, hold_until_in_flight=8) as server:
        config = config_for(
            tmp_path, server, 16, name="zero-shot", batch_size=16, max_concurrency=8
        )
        summary = Run(config, with_student=False).execute(progress=False)
    assert summary.labelled == 16 and summary.llm_calls == 16
    assert server.log.max_in_flight == 8 and server.log.hold_timeouts == 0
    # the first eight requests were all in flight before any was answered
    served = sorted(server.log.served, key=lambda s: s.started)
    assert max(s.started for s in served[:8]) < min(s.finished for s in served)


def test_every_record_is_labelled_when_30_percent_of_requests_fail(tmp_path):
    with FakeOpenAIServer(delay_s=0.05, fail_rate=0.3, hang_s=1.0, seed=1) as server:
        config = config_for(tmp_path, server, 32, max_concurrency=8, batch_size=8, timeout_s=0.5)
        run = Run(config, with_student=False)
        summary = run.execute(progress=False)
    outcomes = server.log.outcomes()
    assert {"429", "500", "timeout"} <= set(outcomes), outcomes
    failed = sum(v for k, v in outcomes.items() if k != "ok")
    assert failed / sum(outcomes.values()) > 0.15
    labelled = run.store.all()
    assert len(labelled) == 32 and summary.failed == 0
    assert all(
        a.error is None for r in labelled for a in r.attempts
    )  # no network error reached a record


def test_a_dead_backend_stops_the_run_and_a_rerun_finishes_it(tmp_path):
    with FakeOpenAIServer(fail_rate=1.0, faults=("500",)) as server:
        config = config_for(tmp_path, server, 8, max_retries=0)
        config = config.model_copy(
            update={"run": config.run.model_copy(update={"node_retries": 2})}
        )
        with pytest.raises(BackendUnavailable, match="500"):
            Run(config, with_student=False).execute(progress=False)
        run = Run(config, with_student=False)
        assert len(run.store) == 0  # nothing was stored as failed
        server.fail_rate = 0.0
        summary = run.execute(progress=False)
    assert summary.labelled == 8 and summary.failed == 0


def stored_ids(run_dir) -> set[str]:
    try:
        with sqlite3.connect(run_dir / "results.sqlite") as conn:
            return {row[0] for row in conn.execute("SELECT id FROM results")}
    except sqlite3.OperationalError:
        return set()


def label_cli(config_path, *extra: str, **kwargs):
    return [
        sys.executable,
        "-m",
        "dualchecker.cli",
        "label",
        str(config_path),
        "--no-progress",
        *extra,
    ]


def test_kill_9_mid_run_loses_nothing_and_repeats_only_calls_in_flight(tmp_path):
    n, in_flight = 32, 4
    with FakeOpenAIServer(delay_s=0.25) as server:
        config = config_for(tmp_path, server, n, max_concurrency=in_flight)
        raw = json.loads(config.model_dump_json())
        raw["run"]["llm_cache_path"] = str(tmp_path / "shared-cache.sqlite")
        config_path = tmp_path / "config.yaml"
        config_path.write_text(yaml.safe_dump(raw))
        run_dir = tmp_path / "run"

        proc = subprocess.Popen(
            label_cli(config_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.time() + 90
        while len(stored_ids(run_dir)) < 8 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before = stored_ids(run_dir)
        assert 8 <= len(before) < n, "the run should have been killed part-way"
        assert not (run_dir / "labels.jsonl").exists()

        resumed = subprocess.run(
            label_cli(config_path), capture_output=True, text=True, timeout=120
        )
        assert resumed.returncode == 0, resumed.stderr
        assert not set(teacher_answers_since_last_start(run_dir)) & before
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["records"] == n and summary["failed"] == 0 and summary["cache_hits"] > 0
        rows = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text().splitlines()]
        assert sorted(r["id"] for r in rows) == sorted({r["id"] for r in rows}) and len(rows) == n
        answered = Counter(s.key for s in server.log.answered())
        assert sum(count - 1 for count in answered.values()) <= in_flight

        served = len(server.log.served)
        again = subprocess.run(
            label_cli(config_path, "--run-dir", str(tmp_path / "again")),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        assert len(server.log.served) == served  # same configuration, same cache: zero LLM calls
        repeat = json.loads((tmp_path / "again" / "summary.json").read_text())
        assert repeat["llm_calls"] == 0 and repeat["cache_hits"] >= n and repeat["labelled"] == n
