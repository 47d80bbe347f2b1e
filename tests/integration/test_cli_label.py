"""`dualchecker label` over real environmental-claims data with a scripted teacher, killed and resumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml
from sklearn.metrics import f1_score, precision_score

from tests.fakes import teacher_answers_since_last_start
from tests.shared_data import data_file

TASK = {
    "name": "environmental claims",
    "kind": "binary",
    "instructions": "Does the sentence make an environmental claim?",
    "labels": [
        {"name": "no", "description": "not an environmental claim"},
        {"name": "yes", "description": "an environmental claim"},
    ],
}
REPLIES = [
    json.dumps({"label": label, "confidence": conf, "rationale": "scripted"})
    for label, conf in [("yes", 90), ("no", 80), ("no", 40), ("yes", 95)]
]


def write_config(tmp_path, n: int, delay_s: float) -> str:
    config = {
        "task": TASK,
        "inputs": {
            "path": str(data_file("environmental_claims", "dev.jsonl")),
            "limit": n,
            "label_map": {"0": "no", "1": "yes"},
        },
        "pool": {
            "path": str(data_file("environmental_claims", "train.jsonl")),
            "limit": 200,
            "label_map": {"0": "no", "1": "yes"},
        },
        "backend": {
            "kind": "scripted",
            "params": {
                "delay_s": delay_s,
                "rules": [
                    {
                        "when": "Explain briefly",
                        "replies": ['{"rationale": "It matches the standard."}'],
                    },
                    {"replies": REPLIES},
                ],
            },
        },
        "method": {"name": "aligner+teacher-checker", "n_shot": 2},
        "retrieval": {"kind": "hashing"},
        "run": {"dir": str(tmp_path / "run"), "batch_size": 4, "max_concurrency": 2},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "dualchecker.cli", *args]


def stored(run_dir) -> int:
    db = run_dir / "results.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_label_writes_valid_jsonl(tmp_path):
    config = write_config(tmp_path, n=24, delay_s=0.0)
    done = subprocess.run(
        cli("label", config, "--no-progress"), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "teacher F1" in done.stdout and "labels:" in done.stdout
    run_dir = tmp_path / "run"
    rows = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 24 and len({r["id"] for r in rows}) == 24
    # every label is one the teacher gave, with its own confidence; the unsure one re-prompted
    replies = {(a["label"], a["confidence"] / 100) for a in map(json.loads, REPLIES)}
    assert all((r["label"], r["confidence"]) in replies for r in rows)
    reprompted = [r for r in rows if r["reprompted"]]
    assert reprompted and all(r["before"]["confidence"] == 0.4 for r in reprompted)
    assert all(r["confidence"] != 0.4 for r in rows if not r["reprompted"])
    # the summary's scores and counts are those of the rows and events it wrote, recounted here
    summary = json.loads((run_dir / "summary.json").read_text())
    gold = [r["gold_label"] == "yes" for r in rows]
    said = [r["label"] == "yes" for r in rows]
    assert summary["teacher"]["f1"] == pytest.approx(f1_score(gold, said))
    assert summary["teacher"]["precision"] == pytest.approx(precision_score(gold, said))
    assert f"teacher F1 {f1_score(gold, said):.3f}" in done.stdout
    before_right = [r["before"]["label"] == r["gold_label"] for r in reprompted]
    now_right = [r["label"] == r["gold_label"] for r in reprompted]
    flips = summary["reprompt_flips"]
    assert flips["wrong_to_right"] == sum(n and not b for b, n in zip(before_right, now_right))
    assert flips["right_to_wrong"] == sum(b and not n for b, n in zip(before_right, now_right))
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    answers = sum(e["agent"] == "teacher" and e["kind"] == "answer" for e in events)
    assert answers == len(rows) + len(reprompted)  # one answer a record, one more a re-prompt
    assert summary["llm_calls"] == answers + sum(e["kind"] == "rationale" for e in events)


def stored_ids(run_dir) -> set[str]:
    with sqlite3.connect(run_dir / "results.sqlite") as conn:
        return {row[0] for row in conn.execute("SELECT id FROM results")}


def test_killed_run_resumes_without_relabelling(tmp_path):
    config = write_config(tmp_path, n=32, delay_s=0.1)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        cli("label", config, "--no-progress"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while stored(run_dir) < 12 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = stored_ids(run_dir)
    assert 12 <= len(finished) < 32, "the run should have been killed halfway"

    resumed = subprocess.run(
        cli("label", config, "--no-progress"), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    events = (run_dir / "events.jsonl").read_text()
    assert '"run_resumed"' in events
    relabelled = set(teacher_answers_since_last_start(run_dir)) & finished
    assert not relabelled, (
        f"records labelled before the kill were sent to the teacher again: {relabelled}"
    )
    rows = [json.loads(line) for line in (run_dir / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 32 and len({r["id"] for r in rows}) == 32
