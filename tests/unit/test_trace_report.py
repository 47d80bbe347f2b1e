"""The HTML trace report of a real run (scripted teacher): content, escaping, no network, CLI."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.types import Task
from dualchecker.cli import app
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run
from dualchecker.trace.html import render_html
from dualchecker.trace.report import load_report
from dualchecker.trace.stats import cost_rows
from tests.fakes import BINARY, keyword_label, records, scripted_teacher

FAKE_KEY = "sk-test1234567890abcdefXYZ"
ROWS = records(
    [
        ("g1", "We cut our carbon emissions by 30 percent last year.", "yes"),
        ("g2", "Revenue grew in the third quarter.", "no"),
        ("g3", "unsure: our packaging may be greener <script>alert('x')</script> now.", "yes"),
        ("g4", f"The board met; the key {FAKE_KEY} was pasted here by mistake.", "no"),
        ("g5", 'We recycle all waste; see <img src="https://example.com/x.png">.', "yes"),
        ("g6", "Sales were flat.", "no"),
    ],
    detail=True,
)


def answer(text: str, reprompt: bool) -> dict:
    """'yes' for environmental words; unsure (40) on the first try of texts starting 'unsure'."""
    label = keyword_label(text, {"yes": ["carbon", "recycle", "greener"]}, "no")
    return {
        "label": label,
        "confidence": 40 if text.startswith("unsure") and not reprompt else 90,
        "rationale": "keywords",
    }


def teacher_config(task: Task, tmp_path: Path, *, n_shot: int, **run: Any) -> RunConfig:
    """Verbalised DualChecker, teacher only, at most one re-prompt, run in tmp_path / "run"."""
    return RunConfig(
        task=task,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        method=method(
            "dualchecker-verbalised",
            n_shot=n_shot,
            max_reprompts=1,
            student=False,
            student_checker=False,
        ),
        run=RunSettings(dir=tmp_path / "run", **run),
    )


def teacher_run(tmp_path: Path) -> Path:
    """A finished run of the teacher graph over ROWS (batches of 3); g3 is re-prompted."""
    config = teacher_config(BINARY, tmp_path, n_shot=2, batch_size=3, max_concurrency=2)
    Run(
        config, llm=scripted_teacher(answer), embedder=HashingEmbedder(), inputs=ROWS, pool=ROWS
    ).execute(progress=False)
    return tmp_path / "run"


class Elements(HTMLParser):
    """Start tags with their attributes, in document order."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **match: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in match.items())
        ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return teacher_run(tmp_path_factory.mktemp("trace"))


@pytest.fixture(scope="module")
def page(run_dir) -> str:
    return render_html(load_report(run_dir))


def test_every_record_is_listed_and_only_the_reprompted_one_is_flagged(page):
    rows = Elements(page).find("details", **{"class": "record"})
    assert [r["id"] for r in rows] == [f"record-g{i}" for i in range(1, 7)]
    assert {r["id"]: r["data-reprompted"] for r in rows if r["data-reprompted"] == "1"} == {
        "record-g3": "1"
    }
    assert {r["data-label"] for r in rows} == {"yes", "no"}
    assert all(r["data-wrong"] == "0" and r["data-failed"] == "0" for r in rows)


def test_reprompted_record_shows_both_attempts_and_why(page):
    record = page[page.index('id="record-g3"') : page.index('id="record-g4"')]
    assert "first answer" in record and "re-prompt" in record
    assert "confidence 0.40 &lt; threshold 0.75 → re-prompted" in record
    assert "0.40 → 0.90" in record
    assert (
        record.count("prompt and reply") == 2 and "Detail about g3." in record
    )  # the re-prompt's detail


def test_graph_is_inline_svg_with_the_low_confidence_edge(page):
    svg = re.search(r'<svg[^>]*class="graph".*?</svg>', page, flags=re.S).group(0)
    edges = Elements(svg).find("g", data_label="low confidence")
    assert {(e["data-source"], e["data-target"]) for e in edges} == {
        ("label_record:teach", "label_record:reprompt"),
        ("label_record:reprompt", "label_record:reprompt"),
    }
    assert ">low confidence</text>" in svg
    assert 'data-node="label_record:reprompt"' in svg and "ran 1×" in svg  # g3 only
    assert "train_student" not in svg  # this run had no student


def test_confidence_histograms_before_and_after_reprompting(page):
    charts = re.findall(r'<svg[^>]*class="chart histogram".*?</svg>', page, flags=re.S)
    assert len(charts) == 2
    first, final = charts
    assert "<title>0.4–0.5: 1</title>" in first and "<title>0.9–1.0: 5</title>" in first
    assert "<title>0.4–0.5: 0</title>" in final and "<title>0.9–1.0: 6</title>" in final
    assert "threshold 0.75" in first


def test_report_needs_no_network(page):
    for tag, attrs in Elements(page).tags:
        for name in ("src", "href", "xlink:href", "action", "poster"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, name, value)
    # url(#…) points inside the page (arrow heads, the charts' clip paths)
    assert "<link" not in page and "@import" not in page and not re.search(r"url\((?!#)", page)
    assert "default-src 'none'" in page


def test_prompt_text_is_escaped_and_secrets_are_redacted(page, run_dir):
    assert FAKE_KEY in (run_dir / "results.sqlite").read_bytes().decode("utf-8", "replace")
    assert FAKE_KEY not in page and "[REDACTED]" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert '<img src="https://example.com' not in page
    assert len(Elements(page).find("script")) == 1  # only the report's own filter script


def test_cost_rows_add_up_to_the_run_summary(run_dir):
    report = load_report(run_dir)
    rows = {(r.agent, r.kind): r for r in cost_rows(report.events)}
    total = rows[("all", "LLM calls")]
    usage = report.summary["usage"]
    assert (total.input_tokens, total.output_tokens) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    assert total.calls == report.summary["llm_calls"]
    assert (
        rows[("teacher", "answer (first)")].calls == 6
        and rows[("teacher", "answer (re-prompt)")].calls == 1
    )
    teacher = rows[("teacher", "answer (first)")]
    assert teacher.p50 is not None and teacher.p50 <= teacher.p95


def test_a_calibrated_runs_cost_table_counts_the_calibration_as_the_summary_does(tmp_path):
    from tests.unit.test_progress import calibrated_run

    summary = calibrated_run(tmp_path, progress=False)
    report = load_report(tmp_path / "run")
    rows = {(r.agent, r.kind): r for r in cost_rows(report.events)}
    effect = summary.calibration["reprompt_effect"]
    assert rows[("calibration", "answer")].calls == summary.calibration["pool_raw"]["n"] == 30
    assert rows[("calibration", "reprompt")].calls == effect["tried"]
    assert summary.by_agent["calibration"].calls == 30 + effect["tried"]
    assert rows[("all", "LLM calls")].calls == summary.llm_calls
    assert set(report.records) == {"i1", "i2", "i3"}  # pool examples are not the run's records
    page = render_html(report)
    card = f'<div class="card-value">{summary.llm_calls}</div><div class="card-name">LLM calls<'
    assert card in page  # the overview's count is the summary's too
    header = re.search(r"re-prompt below confidence <b>([^<]*)</b>", page)
    assert header and header.group(1) == f"{report.threshold:.2f}"  # rounded as in the summary


def test_cli_writes_the_report_next_to_the_run_or_where_asked(run_dir, tmp_path):
    result = CliRunner().invoke(app, ["trace", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    out = tmp_path / "elsewhere" / "trace.html"
    result = CliRunner().invoke(app, ["trace", str(run_dir), "--out", str(out), "--no-prompts"])
    assert result.exit_code == 0, result.output
    assert "prompt and reply" not in out.read_text(encoding="utf-8")


def test_cli_prints_one_record_timeline(run_dir):
    result = CliRunner().invoke(app, ["trace", str(run_dir), "--record", "g3"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        out.index("demonstrations")
        < out.index("first answer")
        < out.index("re-prompt")
        < out.index("final yes")
    )
    assert "confidence 0.40 < threshold 0.75 → re-prompted" in out
    assert "gold yes" in out and "match" in out
    assert "<script>alert('x')</script>" in out  # printed as text, not read as rich markup


def test_cli_record_view_can_show_prompts_and_redacts_them(run_dir):
    result = CliRunner().invoke(app, ["trace", str(run_dir), "--record", "g4", "--prompts"])
    assert result.exit_code == 0, result.output
    assert "Answer (JSON only)" in result.output and FAKE_KEY not in result.output


def test_cli_fails_cleanly_on_unknown_record_or_missing_events(run_dir, tmp_path):
    result = CliRunner().invoke(app, ["trace", str(run_dir), "--record", "nope"])
    assert result.exit_code == 2 and "no record 'nope'" in result.output
    result = CliRunner().invoke(app, ["trace", str(tmp_path)])
    assert result.exit_code == 2 and "no events.jsonl" in result.output


def test_span_run_with_a_failed_record(tmp_path):
    from tests.fakes import SPANS, green_span_records

    rows = green_span_records()[:2]

    def spans_answer(text, reprompt):
        if text.startswith("LED"):  # nothing of it is in the text
            return {"cause": "LED bulbs", "effect": "saves the planet", "confidence": 90}
        return {"cause": "A heat pump", "effect": "cuts fuel use", "confidence": 90}

    config = teacher_config(SPANS, tmp_path, n_shot=1, batch_size=2)
    Run(
        config,
        llm=scripted_teacher(spans_answer),
        embedder=HashingEmbedder(),
        inputs=rows,
        pool=rows,
    ).execute(progress=False)
    report = load_report(tmp_path / "run")
    assert report.records["s1"].teacher_answer == 'cause "A heat pump" · effect "cuts fuel use"'
    assert report.records["s1"].gold == report.records["s1"].teacher_answer
    assert report.records["s2"].failed and not report.records["s2"].reprompted
    page = render_html(report)
    rows = {r["id"]: r for r in Elements(page).find("details", **{"class": "record"})}
    assert (
        rows["record-s1"]["data-label"] == "spans"
        and rows["record-s2"]["data-label"] == "(no answer)"
    )
    assert rows["record-s2"]["data-failed"] == "1" and rows["record-s2"]["data-wrong"] == "1"
    assert "re-asked 1× with its error" in page and "hallucinated span" in page
