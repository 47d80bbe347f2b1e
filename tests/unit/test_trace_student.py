"""The report's student sections: F1 per batch, borderline cases, template evolution, disagreement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dualchecker.agents.types import Usage
from dualchecker.events import EventLog, read_events
from dualchecker.trace.html import render_html
from dualchecker.trace.report import load_report
from dualchecker.trace.stats import FIT_F1, ONLINE_F1, cost_rows, student_metrics
from tests.unit.test_trace_report import Elements, teacher_run


def prediction(rid: str, before: str, after: str, confidence: float = 0.8) -> dict:
    return {
        "record_id": rid,
        "before_label": before,
        "before_spans": [],
        "label": after,
        "spans": [],
        "confidence": confidence,
    }


def add_student_events(run_dir: Path) -> None:
    """What the student side logs for two batches (g1–g3, g4–g6): the shape graph/student_nodes emits."""
    log = EventLog(run_dir / "events.jsonl", run_id=read_events(run_dir / "events.jsonl")[0].run_id)
    trained = lambda batch, seconds, loss, *predictions: log.emit(
        "student",
        "batch_trained",
        batch=batch,
        seconds=seconds,
        examples=3 * (batch + 1),
        left_out=0,
        loss=loss,
        predictions=list(predictions),
    )
    trained(
        0,
        0.5,
        0.69,
        prediction("g1", "no", "yes"),
        prediction("g2", "no", "no"),
        prediction("g3", "no", "no", 0.52),
    )
    log.emit(
        "student_checker",
        "borderline",
        batch=0,
        cases=[
            {
                "record_id": "g3",
                "reason": "wrong vs gold",
                "student_label": "no",
                "student_spans": [],
                "student_confidence": 0.52,
                "reference_label": "yes",
                "reference_spans": [],
            }
        ],
    )
    log.emit(
        "student_checker",
        "template_changed",
        batch=0,
        record_id="g3",
        usage=Usage(input_tokens=50, output_tokens=9),
        reason="wrong vs gold",
        template_size=1,
        demonstration={
            "source": "template",
            "record_id": "g3",
            "text": "unsure: our packaging …",
            "label": "yes",
            "spans": [],
            "rationale": "Greener packaging is a <b>claim</b>.",
        },
    )
    trained(
        1,
        0.7,
        0.41,
        prediction("g4", "no", "no"),
        prediction("g5", "yes", "yes"),
        prediction("g6", "no", "no"),
    )
    log.emit("student_checker", "borderline", batch=1, cases=[])
    log.close()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run_dir = teacher_run(tmp_path_factory.mktemp("trace-student"))
    add_student_events(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def page(run_dir) -> str:
    return render_html(load_report(run_dir))


def test_student_f1_per_batch_online_against_gold_and_against_the_teacher(run_dir):
    rows = dict(student_metrics(load_report(run_dir)))
    # batch 0: gold yes/no/yes, student said no/no/no before training → positive-class F1 0
    # batch 1: gold no/yes/no, said no/yes/no → 1; after training vs teacher yes/no/yes: yes/no/no → 2/3
    assert rows[0][ONLINE_F1] == 0.0 and rows[1][ONLINE_F1] == 1.0
    assert rows[0][FIT_F1] == pytest.approx(2 / 3) and rows[1][FIT_F1] == 1.0
    assert rows[0]["loss"] == 0.69 and rows[1]["examples"] == 6


def test_report_draws_student_charts_and_lists_borderline_cases(page):
    assert (
        'id="student"' in page
        and "student F1 per batch" in page
        and "student loss per batch" in page
    )
    lines = re.search(
        r'<svg[^>]*aria-label="student F1 per batch".*?</svg>', page, flags=re.S
    ).group(0)
    assert set(re.findall(r"<title>([^<:]*): batch", lines)) == {ONLINE_F1, FIT_F1}  # one line each
    borderline = page[page.index("Borderline cases") : page.index('id="template"')]
    assert '<a href="#record-g3">g3</a>' in borderline and "wrong vs gold" in borderline


def test_template_evolution_shows_the_added_demonstration_escaped(page):
    section = page[page.index('<section id="template"') : page.index('<section id="records"')]
    assert "batch 0" in section and "template holds 1" in section
    assert "Greener packaging is a &lt;b&gt;claim&lt;/b&gt;." in section


def test_disagreement_filter_and_record_timeline(page):
    rows = {r["id"]: r for r in Elements(page).find("details", **{"class": "record"})}
    assert {rid for rid, r in rows.items() if r["data-disagree"] == "1"} == {"record-g3"}
    record = page[page.index('id="record-g3"') : page.index('id="record-g4"')]
    for text in (
        "trained on batch 0",
        "before training no",
        "borderline",
        "should be yes",
        "template changed",
        "teacher ≠ student",
    ):
        assert text in record


def test_student_nodes_are_counted_in_the_cost_table_and_graph(page, run_dir):
    cost = page[page.index('id="cost"') : page.index("</table>", page.index('id="cost"'))]
    assert "batch_trained" in cost and "template_changed" in cost
    rows = {(r.agent, r.kind): r for r in cost_rows(load_report(run_dir).events)}
    assert rows[("student", "batch_trained")].total_seconds == pytest.approx(1.2)
    assert not rows[("student", "batch_trained")].counted_tokens
    assert (
        rows[("all", "LLM calls")].calls == rows[("aligner", "rationale")].calls + 7 + 1
    )  # + teacher + refine
    svg = re.search(r'<svg[^>]*class="graph".*?</svg>', page, flags=re.S).group(0)
    assert 'data-node="train_student"' in svg and ">ran 2×</text>" in svg
    assert {
        (e["data-source"], e["data-target"])
        for e in Elements(svg).find("g", data_label="borderline")
    } == {("check_student", "refine_template")}


def test_a_real_student_loop_feeds_the_same_sections(tmp_path, monkeypatch):
    """Against the student side as it is wired today (scripted teacher, a trainer that says 'no')."""
    import dualchecker.distill as distill
    from dualchecker.agents.embedders import HashingEmbedder
    from dualchecker.data import DataSource
    from dualchecker.graph.config import RunConfig, RunSettings, StudentSettings, method
    from dualchecker.runner import Run
    from tests.fakes import BINARY, SpyTrainer, scripted_teacher
    from tests.unit.test_trace_report import ROWS, answer

    monkeypatch.setattr(
        distill, "make_trainer", lambda config, settings: SpyTrainer(confidence=0.6)
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("dualchecker-verbalised", n_shot=1),
        run=RunSettings(dir=tmp_path / "run", batch_size=3),
        student=StudentSettings(use_ray=False, final=False),
    )
    Run(
        config, llm=scripted_teacher(answer), embedder=HashingEmbedder(), inputs=ROWS, pool=ROWS
    ).execute(progress=False)
    report = load_report(tmp_path / "run")
    assert [batch for batch, _ in student_metrics(report)] == [0, 1]
    assert report.records["g1"].student_answer == "no" and report.records["g1"].disagrees
    page = render_html(report)
    assert "Borderline cases" in page and 'id="template"' in page and "student F1 per batch" in page


def test_final_student_scores_are_in_the_overview(run_dir, tmp_path):
    import json
    import shutil

    copy = shutil.copytree(run_dir, tmp_path / "run")
    summary = json.loads((copy / "summary.json").read_text())
    summary["student"] = {
        "left_out": 0,
        "n_test": 20,
        "n_human": 16,
        "teacher_labels": {"f1": 0.81, "n_train": 6},
        "pool_only": {"f1": 0.77, "n_train": 4},
        "gold_labels": {"f1": 0.85, "n_train": 6},
    }
    summary["contribution"] = {"teacher_weight": 0.4, "compared": 20, "changed": 5}
    summary["comparison"] = {
        "n": 20,
        "against": [
            {
                "baseline": "pool_only",
                "baseline_f1": 0.77,
                "f1": 0.81,
                "difference": 0.04,
                "low": -0.02,
                "high": 0.1,
            }
        ],
    }
    (copy / "summary.json").write_text(json.dumps(summary))
    page = render_html(load_report(copy))
    assert "trained on the pool and the teacher&#39;s labels" in page or (
        "trained on the pool and the teacher's labels" in page
    )
    assert "0.810" in page and "0.850" in page and "0.770" in page
    assert "your 16 human labels alone" in page and "no clear gain from the LLM" in page
    assert "5 (25%)" in page and "0.40" in page
    assert "teacher_labels f1" not in page  # no raw keys on the headline cards
