"""A configuration that names no method runs the recommended one; the presets keep their switches."""

from __future__ import annotations

import json

import pytest

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.api import label
from dualchecker.graph.config import METHODS, DataSource, RunConfig, method
from tests.fakes import BINARY, toy_records

SWITCHES = (
    "n_shot",
    "demonstrations",
    "explain_examples",
    "style",
    "teacher_checker",
    "threshold",
    "final_rule",
    "student",
    "student_checker",
    "evokd",
    "template_size",
    "confidence",
    "calibrate",
    "neighbour_vote",
    "vote",
    "balanced",
    "reprompt_style",
    "judge_reprompts",
    "calibration_form",
    "decision",
)
VERBALISED = ("verbalised", False, False, "knn", False, "more", False, "full", "argmax")
# Each preset's switches, written out: a change to MethodConfig's field defaults (which every
# preset builds on) must show here rather than silently change a baseline.
PRESETS = {
    "zero-shot": (0, "aligned", False, "plain", False, 0.75, "most_confident", False, False, False, 2, *VERBALISED),
    "few-shot": (5, "static", False, "plain", False, 0.75, "most_confident", False, False, False, 2, *VERBALISED),
    "cot": (5, "static", True, "cot", False, 0.75, "most_confident", False, False, False, 2, *VERBALISED),
    "dtot": (5, "static", False, "plain", True, 0.8, "most_confident", False, False, False, 2, *VERBALISED),
    "evokd": (5, "static", False, "plain", False, 0.75, "most_confident", True, False, True, 2, *VERBALISED),
    "aligner": (5, "aligned", True, "plain", False, 0.75, "most_confident", False, False, False, 2, *VERBALISED),
    "aligner+teacher-checker": (5, "aligned", True, "plain", True, 0.75, "most_confident", False, False, False, 2, *VERBALISED),
    "aligner+student-checker": (5, "aligned", True, "plain", False, 0.75, "most_confident", True, True, False, 2, *VERBALISED),
    "dualchecker-verbalised": (5, "aligned", True, "plain", True, 0.75, "most_confident", True, True, False, 2, *VERBALISED),
    "paper": (5, "paper", True, "plain", True, 0.75, "latest", True, True, False, 1, *VERBALISED),
    "dualchecker": (
        5, "aligned", False, "plain", True, 0.75, "average", True, True, False, 2,
        "token_probability", True, True, "probe", True, "contrastive", True, "shared", "f1",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_keeps_its_switches(name):
    assert method(name).model_dump(include=set(SWITCHES)) == dict(zip(SWITCHES, PRESETS[name]))
    assert method(name).name == name and name in METHODS


def test_a_config_without_a_method_is_the_dualchecker_preset(tmp_path):
    body = {"task": BINARY.model_dump(mode="json"), "inputs": {"path": "in.jsonl"}}
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(body))
    assert RunConfig.from_yaml(path).method == method("dualchecker")
    assert RunConfig(task=BINARY, inputs=DataSource(path=path)).method == method("dualchecker")
    # a mapping without a name is the same preset with its overrides
    named = RunConfig.model_validate({**body, "method": {"n_shot": 2}}).method
    assert named == method("dualchecker", n_shot=2)
    # the first version stays reachable by its own name
    old = RunConfig.model_validate({**body, "method": "dualchecker-verbalised"}).method
    assert old.confidence == "verbalised" and not old.calibrate


def test_label_runs_the_dualchecker_preset_by_default(tmp_path):
    model = ScriptedChatModel(
        responder=lambda m: json.dumps({"label": "yes", "confidence": 90, "rationale": "r"})
    )
    label(
        BINARY,
        toy_records("claims_six"),
        ["We cut emissions.", "Sales rose."],
        llm=model,
        run_dir=tmp_path,
        embedder=HashingEmbedder(),
    )
    used = json.loads((tmp_path / "config.json").read_text())["method"]
    expected = method("dualchecker", student=False, student_checker=False)
    assert used == expected.model_dump(mode="json")
