"""What a new user hit in the CLI and the Python API, one test per problem, each fixed at its root."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dualchecker
from dualchecker.agents.answers import parse_answer, parse_rationale
from dualchecker.agents.backends import ChatBackend, make_backend
from dualchecker.agents.checkers import Borderline
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.faults import BackendUnavailable
from dualchecker.agents.prompting import PromptBook
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.agents.template import TemplateRefiner
from dualchecker.cli import app
from dualchecker.data import DataSource, load_records
from dualchecker.errors import ConfigError
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run, clear_run_dir, estimate, format_summary
from tests.fakes import BINARY, records, scripted_teacher

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = records(
    [
        ("c0", "We cut carbon emissions by 30 percent.", "yes"),
        ("c1", "Revenue grew in the third quarter.", "no"),
        ("c2", "Our plants run on solar power.", "yes"),
        ("c3", "The board appointed a new CFO.", "no"),
    ]
)


def always(label: str = "no", confidence: int = 90):
    return scripted_teacher(
        lambda text, re: {"label": label, "confidence": confidence, "rationale": "r"}
    )


def down_after(answers: int):
    """A teacher that answers 'no' to its first `answers` prompts, then finds its backend down."""
    calls = {"n": 0}

    def answer(text, re):
        calls["n"] += 1
        if calls["n"] > answers:
            raise ConnectionError("down")
        return {"label": "no", "confidence": 90}

    return scripted_teacher(answer)


def zero_shot_config(tmp_path: Path, **run) -> RunConfig:
    """Zero-shot labelling of BINARY records without a student, run in tmp_path / "run"."""
    return RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("zero-shot", student=False),
        run=RunSettings(dir=tmp_path / "run", **run),
    )


def config_file(tmp_path: Path, **extra) -> Path:
    data = tmp_path / "in.jsonl"
    data.write_text(
        "\n".join(json.dumps({"id": r.id, "text": r.text, "label": r.label}) for r in CLAIMS) + "\n"
    )
    body = {
        "task": BINARY.model_dump(mode="json"),
        "inputs": {"path": "in.jsonl"},
        "backend": {
            "kind": "scripted",
            "params": {"rules": [{"replies": ['{"label": "no", "confidence": 90}']}]},
        },
        "method": {"name": "zero-shot", "student": False},
        "run": {"dir": "run"},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(body))
    return path


# 1
def test_an_unknown_method_name_fails_in_the_mapping_form_too():
    with pytest.raises(ConfigError, match="unknown method 'dual-checker'"):
        RunConfig.model_validate(
            {
                "task": BINARY.model_dump(),
                "inputs": {"path": "x.jsonl"},
                "method": {"name": "dual-checker", "n_shot": 3},
            }
        )


# 2
def test_a_local_model_passed_in_gets_its_grammar_and_a_lost_record_warns():
    class GrammarModel(ScriptedChatModel):
        accepts_grammar: bool = True

    assert make_backend(GrammarModel(responder=lambda m: "{}")).structured == "response_format"
    broken = scripted_teacher(
        lambda text, re: "I think yes" if "solar" in text else {"label": "no", "confidence": 90}
    )
    with pytest.warns(UserWarning, match=r"1 of 4 records got no valid answer"):
        labelled = dualchecker.label(
            BINARY,
            [],  # zero-shot reads no pool (and a pool must not hold the texts labelled)
            [r.text for r in CLAIMS],
            llm=broken,
            method_config="zero-shot",
            embedder=HashingEmbedder(),
        )
    assert sum(r.label is None for r in labelled) == 1


# 3
def test_raw_newlines_inside_a_json_string_are_read():
    raw = '{"label": "yes", "confidence": 80, "rationale": "a major\n\nclaim" }'
    assert parse_answer(raw, BINARY, "text").rationale == "a major\n\nclaim"


# 4
def test_rerunning_a_finished_run_changes_nothing_and_says_so(tmp_path):
    config = zero_shot_config(tmp_path, llm_cache=True)
    first = Run(config, llm=always(), embedder=HashingEmbedder(), inputs=CLAIMS).execute(
        progress=False
    )
    saved = (tmp_path / "run" / "summary.json").read_text()
    model = always()
    again = Run(config, llm=model, embedder=HashingEmbedder(), inputs=CLAIMS).execute(
        progress=False
    )
    assert model.prompts == []  # not even the cache was asked
    assert again.llm_calls == first.llm_calls == 4 and again.seconds == first.seconds
    assert "already complete" in again.note and "already complete" in format_summary(again)
    assert (tmp_path / "run" / "summary.json").read_text() == saved


def test_the_summary_of_a_resumed_run_covers_the_whole_run(tmp_path):
    config = zero_shot_config(tmp_path, batch_size=2, node_retries=1, llm_cache=False)
    with pytest.raises(BackendUnavailable):
        Run(config, llm=down_after(2), embedder=HashingEmbedder(), inputs=CLAIMS).execute(
            progress=False
        )
    summary = Run(config, llm=always(), embedder=HashingEmbedder(), inputs=CLAIMS).execute(
        progress=False
    )
    assert summary.labelled == 4
    assert summary.llm_calls == 4  # 2 before the outage and 2 after it, not just this process's


def test_fresh_keeps_the_llm_cache(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("llm_cache.sqlite", "results.sqlite", "summary.json"):
        (run_dir / name).write_text("x")
    clear_run_dir(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["llm_cache.sqlite"]


# 5
def test_records_without_an_id_get_the_file_stem_and_row(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b"}\n')
    assert [r.id for r in load_records(DataSource(path=path), BINARY)] == ["dev-1", "dev-2"]


# 6
def test_prompt_for_an_unknown_record_lists_the_ids_without_building_the_run(tmp_path, monkeypatch):
    import dualchecker.runner

    monkeypatch.setattr(
        dualchecker.runner.Run, "__init__", lambda *a, **k: pytest.fail("the run was built")
    )
    result = CliRunner().invoke(app, ["prompt", str(config_file(tmp_path)), "--record", "X"])
    assert result.exit_code == 2
    assert "no record 'X'" in result.output and "c0, c1, c2, c3" in result.output


# 7
def test_export_refuses_a_directory_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "not a run directory" in result.output
    assert not (tmp_path / "results.sqlite").exists()


def test_a_bad_data_file_leaves_no_run_directory(tmp_path):
    config = config_file(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": ""}\n')
    result = CliRunner().invoke(app, ["label", str(config), "--no-progress"])
    assert result.exit_code == 2 and not (tmp_path / "run").exists()


# 8
def test_the_readme_example_config_is_a_real_file_whose_paths_follow_the_yaml():
    readme = (ROOT / "README.md").read_text()
    assert "relative to the YAML file" in readme
    block = readme[readme.index("```yaml") + len("```yaml") :]
    shipped = ROOT / "benchmarks" / "claims.yaml"
    assert block[: block.index("```")].strip() == shipped.read_text().strip()
    config = RunConfig.from_yaml(shipped)
    assert (
        config.inputs.path.resolve()
        == (ROOT.parent / "shared" / "data" / "environmental_claims" / "dev.jsonl").resolve()
    )


# 9
def test_dry_run_counts_calibration_rationales_and_student_feedback(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"p{i}",
                    "text": f"pool text {i} on {'carbon' if i % 2 else 'sales'}",
                    "label": i % 2,
                }
            )
            for i in range(20)
        )
        + "\n"
    )
    path = config_file(
        tmp_path,
        pool={"path": "pool.jsonl", "label_map": {"0": "no", "1": "yes"}},
        backend={"kind": "local"},
        method={"name": "dualchecker", "n_shot": 1, "calibration_size": 10},
        run={"dir": "run", "batch_size": 2},
    )
    est = estimate(RunConfig.from_yaml(path), embedder=HashingEmbedder())
    # the 10 pool answers, plus the re-prompts that judge re-prompting (its unsure answers)
    assert 10 < est.by_agent["calibration"].calls <= 10 + 10
    assert est.by_agent["teacher"].calls >= 4
    assert est.by_agent["student_checker"].calls == 2  # one borderline case per batch
    assert est.assumptions["reprompt_rate"] == 0.3 and est.assumptions["label_probabilities"]


# 10
def test_graph_of_a_bad_config_is_one_line_and_the_readme_shows_what_graph_prints(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: {name: x}\n")
    result = CliRunner().invoke(app, ["graph", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    printed = CliRunner().invoke(app, ["graph"]).output.strip()
    readme = (ROOT / "README.md").read_text()
    listing = readme[readme.index("```mermaid") + len("```mermaid") :]
    assert listing[: listing.index("```")].strip() == printed


# 11
def test_student_feedback_never_calls_the_wrong_student_answer_correct():
    model = ScriptedChatModel(
        responder=lambda m: json.dumps(
            {
                "rationale": (
                    "The student's answer is correct because it mentions revenue. "
                    "The text states a cut in carbon emissions, which is an environmental claim."
                )
            }
        )
    )
    refiner = TemplateRefiner(BINARY, ChatBackend(model), PromptBook())
    case = Borderline(
        record_id="c0",
        reason="wrong vs gold",
        student_label="no",
        student_confidence=0.6,
        reference_label="yes",
    )
    demo, _ = refiner.demonstration(CLAIMS[0], case)
    assert "correct because it mentions revenue" not in demo.rationale
    assert demo.rationale.startswith("The text states a cut in carbon")
    assert "never call it correct" in model.prompts[0][-1].content


def test_a_rationale_cut_at_the_length_cap_ends_on_a_whole_word():
    cut = "The sentence reports lower emissions at the plant" + " and more" * 30
    cut = cut[:240]  # what a maxLength=240 grammar leaves: cut mid-word
    trimmed = parse_rationale(json.dumps({"rationale": cut}), limit=240)
    assert trimmed.endswith("…") and not re.search(r"\s\S{1,2}…$", trimmed.replace(" and…", ""))
    assert cut.startswith(trimmed[:-1])


# 12
def test_summary_and_report_say_what_the_student_f1_means_and_count_refinements():
    from dualchecker.agents.types import Usage
    from dualchecker.runner import RunSummary

    summary = RunSummary(
        run_dir="r",
        method="dualchecker",
        records=4,
        labelled=4,
        failed=0,
        reprompted=0,
        reprompt_rate=0.0,
        changed_by_reprompt=0,
        llm_calls=4,
        usage=Usage(),
        seconds=1.0,
        template_refinements=3,
        student={
            "n_test": 12,
            "left_out": 0,
            "n_human": 16,
            "teacher_labels": {"f1": 0.6},
            "pool_only": {"f1": 0.65},
            "gold_labels": {"f1": 0.7},
        },
    )
    text = format_summary(summary)
    assert "3 demonstrations added to the teaching template" in text
    assert "16 human + teacher labels 0.600" in text
    assert "human labels alone 0.650" in text
    assert "every record's human label (ceiling) 0.700" in text


def test_an_evaluation_file_overlapping_the_pool_is_refused_with_the_ids(tmp_path):
    from dualchecker.errors import DataError
    from dualchecker.graph.config import StudentSettings

    held = tmp_path / "eval.jsonl"
    held.write_text(
        json.dumps({"id": "e1", "text": "Revenue grew in the third quarter.", "label": "no"})
        + "\n"
        + json.dumps({"id": "e2", "text": "A brand new sentence.", "label": "no"})
        + "\n"
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("zero-shot"),
        student=StudentSettings(use_ray=False, eval=DataSource(path=held)),
        run=RunSettings(dir=tmp_path / "run"),
    )
    with pytest.raises(DataError, match=r"e1 = pool c1"):
        Run(config, llm=always(), embedder=HashingEmbedder(), inputs=CLAIMS[2:], pool=CLAIMS[:2])
    allowed = config.model_copy(
        update={
            "student": config.student.model_copy(update={"allow_eval_overlap": True}),
            "run": RunSettings(dir=tmp_path / "run2"),
        }
    )
    Run(allowed, llm=always(), embedder=HashingEmbedder(), inputs=CLAIMS[2:], pool=CLAIMS[:2])


def test_records_finished_in_an_interrupted_batch_are_exported(tmp_path):
    config = zero_shot_config(
        tmp_path, batch_size=4, max_concurrency=1, node_retries=1, llm_cache=False
    )
    with pytest.raises(BackendUnavailable):
        Run(
            config,
            llm=down_after(2),  # dies on the third call
            embedder=HashingEmbedder(),
            inputs=CLAIMS,
        ).execute(progress=False)
    exported = CliRunner().invoke(app, ["export", str(tmp_path / "run")]).output.splitlines()
    assert [json.loads(line)["id"] for line in exported] == ["c0", "c1"]  # the batch never ended
    summary = Run(config, llm=always(), embedder=HashingEmbedder(), inputs=CLAIMS).execute(
        progress=False
    )
    assert summary.labelled == 4 and set(summary.seconds_by_phase) == {
        "labelling",
        "online_student",
        "final_students",
    }
