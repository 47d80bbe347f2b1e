"""The teacher-quality benchmark runs in parts: a finished row is kept, counted once, read back."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from dualchecker.agents.backends import ChatBackend
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.agents.types import Attempt, LabelledRecord, Record, Span, Usage
from dualchecker.kept import read_json, read_lines
from tests.fakes import BINARY, current_text, toy_records

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "teacher_quality.py"


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("teacher_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def green_leaning(messages):
    green = any(w in current_text(messages).lower() for w in ("carbon", "wind", "solar"))
    p = 0.8 if green else 0.3
    return {" yes": math.log(p), " no": math.log(1 - p)}


def zero_shot_row(benchmark, model: ScriptedChatModel, workdir: Path) -> dict:
    inputs = toy_records("claims_six")
    backend, embedder = ChatBackend(model), HashingEmbedder()
    return benchmark.run_row(
        "zero", "zero-shot", BINARY, inputs, inputs, backend, embedder, workdir,
        confidence="token_probability",
    )  # fmt: skip


def test_a_finished_row_run_again_counts_its_calls_once_and_calls_nothing(benchmark, tmp_path):
    inputs = toy_records("claims_six")
    model = ScriptedChatModel(responder=lambda m: "{}", logprobs=green_leaning)
    first = zero_shot_row(benchmark, model, tmp_path)
    assert first["calls"] == len(inputs)
    silent = ScriptedChatModel(responder=lambda m: pytest.fail("no call expected"))
    again = zero_shot_row(benchmark, silent, tmp_path)
    # the figures are the run's own ledger, not this process's (which made no call)
    assert again["calls"] == first["calls"]
    assert again["usage"] == first["usage"]
    assert [r.label for r in again["labelled"]] == [r.label for r in first["labelled"]]
    assert [r.id for r in again["labelled"]] == [r.id for r in inputs]


def test_kept_rows_drop_prompts_and_are_read_back_only_under_the_same_settings(benchmark, tmp_path):
    record = LabelledRecord(
        id="r1",
        text="We cut carbon.",
        label="yes",
        confidence=0.8,
        gold_label="yes",
        attempts=[Attempt(kind="initial", messages=[{"role": "user", "content": "long prompt"}])],
    )
    result = {"labelled": [record], "seconds": 12.5, "calls": 3, "usage": Usage(input_tokens=40)}
    kept = benchmark.KeptRows(tmp_path / "rows", {"dataset": "claims", "n": 1})
    assert kept.load("zero", {"row": "zero"}) is None  # nothing kept yet
    kept.save("zero", {"row": "zero"}, result)
    back = kept.load("zero", {"row": "zero"})
    assert back["labelled"][0].label == "yes" and back["labelled"][0].confidence == 0.8
    assert back["labelled"][0].attempts[0].messages == []
    assert (back["seconds"], back["calls"], back["usage"].input_tokens) == (12.5, 3, 40)
    assert "long prompt" not in "".join(read_lines(tmp_path / "rows" / "zero.json.gz"))
    assert kept.load("zero", {"row": "zero", "calibration_size": 360}) is None
    other = benchmark.KeptRows(tmp_path / "rows", {"dataset": "claims", "n": 2})
    assert other.load("zero", {"row": "zero"}) is None
    saved = read_json(tmp_path / "rows" / "zero.json.gz")
    assert saved["settings"] == {"dataset": "claims", "n": 1, "row": "zero"}


def test_kept_rows_hold_no_data_text_and_get_it_back_from_the_records(benchmark, tmp_path):
    text = "Storms closed the port, so exports fell."
    cause, effect = Span(type="cause", start=0, end=22), Span(type="effect", start=27, end=39)
    quoted = [s.model_copy(update={"text": text[s.start : s.end]}) for s in (cause, effect)]
    record = LabelledRecord(
        id="s1",
        text=text,
        spans=quoted,
        gold_spans=quoted,
        rationale="Because storms closed the port",
        attempts=[
            Attempt(kind="initial", messages=[], raw='{"cause": ["Storms closed the port"]}')
        ],
    )
    kept = benchmark.KeptRows(tmp_path / "rows", {"n": 1}, [Record(id="s1", text=text)])
    kept.save("dc0", {"row": "dc0"}, {"labelled": [record], "usage": Usage()})
    saved = "".join(read_lines(tmp_path / "rows" / "dc0.json.gz"))
    assert "port" not in saved and "exports" not in saved  # no copy of the data's words
    back = kept.load("dc0", {"row": "dc0"})["labelled"][0]
    assert back.text == text
    assert [s.text for s in back.spans] == ["Storms closed the port", "exports fell"]
    assert [s.key() for s in back.gold_spans] == [s.key() for s in quoted]
    # without the records the row still scores (offsets kept), only the words are missing
    blind = benchmark.KeptRows(tmp_path / "rows", {"n": 1}).load("dc0", {"row": "dc0"})
    assert [s.key() for s in blind["labelled"][0].spans] == [s.key() for s in quoted]
