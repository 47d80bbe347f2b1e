"""The whole teacher graph on binary, multiclass and span tasks with a scripted teacher."""

from __future__ import annotations

import json

import pytest

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.data import DataSource
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run
from tests.fakes import (
    BINARY,
    MULTICLASS,
    SPANS,
    green_span_records,
    is_rationale_prompt,
    is_reprompt,
    keyword_label,
    records,
    scripted_teacher,
    toy_records,
)

CLAIMS = toy_records("claims_with_unsure", detail=True)


def make_run(
    tmp_path, task, inputs, llm, *, name="dualchecker-verbalised", batch_size=4, **overrides
) -> Run:
    config = RunConfig(
        task=task,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        method=method(name, student=False, student_checker=False, **overrides),
        run=RunSettings(dir=tmp_path / "run", batch_size=batch_size, max_concurrency=4),
    )
    return Run(config, llm=llm, embedder=HashingEmbedder(), inputs=inputs, pool=inputs)


def claims_answer(text: str, reprompt: bool) -> dict:
    label = keyword_label(text, {"yes": ["carbon", "solar", "recycle", "greener"]}, "no")
    confidence = 40 if text.startswith("unsure") and not reprompt else 90
    return {"label": label, "confidence": confidence, "rationale": "keywords"}


def test_binary_run_labels_every_record_and_excludes_self_from_neighbours(tmp_path):
    llm = scripted_teacher(claims_answer)
    run = make_run(tmp_path, BINARY, CLAIMS, llm, n_shot=3)
    summary = run.execute(progress=False)
    labelled = {r.id: r for r in run.store.all()}
    assert set(labelled) == {r.id for r in CLAIMS}
    for item in labelled.values():
        assert item.id not in item.neighbours and len(item.neighbours) == 3
        assert item.label == item.gold_label
    assert summary.teacher["f1"] == 1.0
    # labels.jsonl is valid and complete
    lines = (tmp_path / "run" / "labels.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(labelled)


def test_neighbours_skip_exact_duplicates_of_the_record(tmp_path):
    dup = records([("d1", "We cut our CARBON emissions by 30 percent last year.", "yes")])
    run = make_run(tmp_path, BINARY, CLAIMS + dup, scripted_teacher(claims_answer), n_shot=2)
    run.execute(progress=False)
    item = {r.id: r for r in run.store.all()}["c1"]
    assert "d1" not in item.neighbours and "c1" not in item.neighbours


def test_rationale_cache_is_hit_when_an_example_is_reused(tmp_path):
    llm = scripted_teacher(claims_answer)
    run = make_run(tmp_path, BINARY, CLAIMS, llm, n_shot=3, teacher_checker=False)
    run.execute(progress=False)
    cache = run.ctx.aligner.cache
    rationale_calls = sum(is_rationale_prompt(p) for p in llm.prompts)
    assert rationale_calls == cache.misses <= len(CLAIMS)
    assert cache.hits > 0  # 8 records × 3 neighbours > 8 distinct examples


def test_low_confidence_triggers_exactly_the_configured_reprompts_with_detail(tmp_path):
    always_unsure = scripted_teacher(
        lambda text, re: {"label": "yes", "confidence": 30, "rationale": ""}
    )
    run = make_run(
        tmp_path, BINARY, CLAIMS[:4], always_unsure, n_shot=2, max_reprompts=2, threshold=0.75
    )
    run.execute(progress=False)
    for item in run.store.all():
        assert [a.kind for a in item.attempts] == ["initial", "reprompt", "reprompt"]
        assert item.reprompted
        assert f"Detail about {item.id}." in item.attempts[1].messages[-1]["content"]
        assert f"Detail about {item.id}." not in item.attempts[0].messages[-1]["content"]
    teacher_prompts = [p for p in always_unsure.prompts if not is_rationale_prompt(p)]
    assert sum(is_reprompt(p) for p in teacher_prompts) == 2 * 4


def test_reprompt_only_where_confidence_is_low_and_both_answers_are_kept(tmp_path):
    run = make_run(
        tmp_path, BINARY, CLAIMS, scripted_teacher(claims_answer), n_shot=2, max_reprompts=1
    )
    summary = run.execute(progress=False)
    labelled = {r.id: r for r in run.store.all()}
    assert [rid for rid, r in labelled.items() if r.reprompted] == ["c7"]
    assert labelled["c7"].before.confidence == 0.4 and labelled["c7"].confidence == 0.9
    assert summary.reprompted == 1
    # the re-prompt saw more demonstrations than the first prompt (2 × n_shot)
    first, second = labelled["c7"].attempts
    assert second.messages[-1]["content"].count("Text:") > first.messages[-1]["content"].count(
        "Text:"
    )


def test_unparseable_output_is_recorded_not_fatal(tmp_path):
    def answer(text, reprompt):
        return "I think it is probably yes" if "board" in text else claims_answer(text, reprompt)

    run = make_run(tmp_path, BINARY, CLAIMS, scripted_teacher(answer), n_shot=1, max_reprompts=1)
    summary = run.execute(progress=False)
    bad = {r.id: r for r in run.store.all()}["c4"]
    assert bad.label is None and bad.error.startswith("parse: no JSON object")
    # re-asked once with its error inside the teacher; a re-prompt would add nothing new
    assert len(bad.attempts) == 1 and bad.attempts[0].reasks == 1 and bad.attempts[0].raw
    assert summary.failed == 1 and summary.labelled == len(CLAIMS) - 1


def test_a_malformed_reply_is_reasked_with_its_error_and_is_no_reprompt(tmp_path):
    said = {}

    def answer(text, reprompt):
        said[text] = said.get(text, 0) + 1
        if "board" in text and said[text] == 1:
            return '{"label": "perhaps", "confidence": 95}'  # not a label of the task
        return claims_answer(text, reprompt)

    llm = scripted_teacher(answer)
    run = make_run(tmp_path, BINARY, CLAIMS, llm, n_shot=1, max_reprompts=1)
    run.execute(progress=False)
    fixed = {r.id: r for r in run.store.all()}["c4"]
    assert fixed.label == "no" and not fixed.reprompted and fixed.attempts[0].reasks == 1
    reask = next(p for p in llm.prompts if p[-1].content.startswith("Your reply could not be used"))
    assert "'perhaps' is not one of" in reask[-1].content
    assert reask[-2].type == "ai" and "perhaps" in reask[-2].content  # its own reply, shown back
    assert [r.id for r in run.store.all() if r.reprompted] == ["c7"]  # only the unsure one


def test_multiclass_run(tmp_path):
    rows = toy_records("green_products")
    answer = lambda text, re: {
        "label": keyword_label(
            text, {"renewables": ["wind", "solar"], "recycling": ["waste"]}, "energy"
        ),
        "confidence": "95%",
        "rationale": "x",
    }
    run = make_run(tmp_path, MULTICLASS, rows, scripted_teacher(answer), n_shot=2)
    summary = run.execute(progress=False)
    assert summary.labelled == 6 and summary.teacher["f1"] == 1.0
    assert all(r.confidence == 0.95 for r in run.store.all())


def test_span_run_rejects_hallucinated_spans(tmp_path):
    rows = green_span_records()

    def answer(text, reprompt):
        if text.startswith("LED"):  # the effect is not in the text: a hallucination
            return {"cause": "LED lighting", "effect": "saves the planet", "confidence": 90}
        cause, _, effect = text.rstrip(".").partition(" that reuses waste heat ")
        if not effect:
            cause, effect = (
                text.split(" lowers ")[0] if "lowers" in text else text.split(" reduces ")[0],
                "reduces NOx emissions",
            )
        return {"cause": cause.upper(), "effect": effect, "confidence": 0.9, "rationale": ""}

    run = make_run(tmp_path, SPANS, rows, scripted_teacher(answer), n_shot=1, max_reprompts=1)
    run.execute(progress=False)
    labelled = {r.id: r for r in run.store.all()}
    # the invented effect is dropped on its own; the grounded cause survives, at lower confidence
    assert labelled["s2"].ok and labelled["s2"].reprompted
    assert [(s.type, s.text) for s in labelled["s2"].spans] == [("cause", "LED lighting")]
    assert labelled["s2"].attempts[0].answer.dropped_spans == 1
    # case-tolerant match maps the quote back to the original characters
    assert [(s.type, s.text) for s in labelled["s1"].spans] == [
        ("cause", "A heat pump"),
        ("effect", "cuts fuel use"),
    ]
    assert [(s.type, s.text) for s in labelled["s3"].spans] == [
        ("cause", "The new catalyst"),
        ("effect", "reduces NOx emissions"),
    ]
    # what the trace reads: every answer and final event carries the same keys, spans as dicts
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    answers = [e for e in events if (e["agent"], e["kind"]) == ("teacher", "answer")]
    finals = [e for e in events if (e["agent"], e["kind"]) == ("teacher_checker", "final")]
    assert {frozenset(e["data"]) for e in answers} == {
        frozenset(
            {"reprompt", "cached", "messages", "raw", "error", "reasks"}
            | {"label", "confidence", "confidence_source", "probabilities", "spans"}
        )
    }
    assert {frozenset(e["data"]) for e in finals} == {
        frozenset({"label", "confidence", "reprompted", "error", "spans"})
    }
    final_s1 = next(e["data"] for e in finals if e["record_id"] == "s1")
    assert [(s["type"], s["text"]) for s in final_s1["spans"]] == [
        ("cause", "A heat pump"),
        ("effect", "cuts fuel use"),
    ]


def test_template_demonstrations_come_first_in_the_prompt(tmp_path):
    from dualchecker.agents.types import Demonstration

    run = make_run(tmp_path, BINARY, CLAIMS, scripted_teacher(claims_answer), n_shot=2)
    template = [
        Demonstration(source="template", record_id="c3", text="TEMPLATE EXAMPLE", label="no")
    ]
    demos = run.ctx.demonstrations.pick(CLAIMS[0], template, 2)
    assert [d.source for d in demos] == ["template", "aligned", "aligned"]


def test_resume_after_interruption_does_not_relabel(tmp_path):
    """Stop the graph after the first batch, then resume in a new Run on the same dir."""
    llm = scripted_teacher(claims_answer)
    run = make_run(
        tmp_path, BINARY, CLAIMS, llm, n_shot=1, teacher_checker=False, explain_examples=False
    )
    from dualchecker.runner import THREAD, open_checkpointer

    with open_checkpointer(run.dir / "checkpoints.sqlite") as saver:
        graph = run.graph(saver)
        cfg = {**THREAD, "recursion_limit": 100}
        for update in graph.stream({"batch_index": 0, "template": []}, cfg, stream_mode="updates"):
            if "collect" in update:
                break  # simulated interruption after batch 1
    assert len(run.store) == 4
    first_calls = len(llm.prompts)
    llm2 = scripted_teacher(claims_answer)
    resumed = make_run(
        tmp_path, BINARY, CLAIMS, llm2, n_shot=1, teacher_checker=False, explain_examples=False
    )
    summary = resumed.execute(progress=False)
    assert summary.records == len(CLAIMS)
    assert len(llm2.prompts) == 4 and first_calls == 4  # only the second batch was labelled


def test_a_record_stored_before_its_batch_was_checkpointed_is_not_asked_again(tmp_path):
    """A kill between a record's store write and its batch's checkpoint: on resume the stored
    attempts stand, the teacher checker's verdict is the same, and no call is made for it."""
    llm = scripted_teacher(claims_answer)
    first = make_run(tmp_path, BINARY, CLAIMS[:2], llm, n_shot=0, batch_size=2)
    first.execute(progress=False)
    done = {r.id: r for r in first.store.all()}
    (tmp_path / "run" / "checkpoints.sqlite").unlink()  # as if killed before the checkpoint
    llm2 = scripted_teacher(claims_answer)
    again = make_run(tmp_path, BINARY, CLAIMS[:2], llm2, n_shot=0, batch_size=2)
    again.execute(progress=False)
    assert llm2.prompts == []
    assert {r.id: r.label for r in again.store.all()} == {i: r.label for i, r in done.items()}


def test_a_run_dir_refuses_a_different_configuration(tmp_path):
    from dualchecker.errors import ConfigError

    make_run(tmp_path, BINARY, CLAIMS, scripted_teacher(claims_answer), n_shot=1)
    with pytest.raises(ConfigError, match="different run"):
        make_run(tmp_path, BINARY, CLAIMS, scripted_teacher(claims_answer), n_shot=2)


@pytest.mark.parametrize("n_shot, retrieved", [(1, 1), (3, 1), (5, 2)])
def test_paper_preset_shows_the_reference_codes_mix_of_demonstrations(tmp_path, n_shot, retrieved):
    pool = CLAIMS[2:] + records(  # the human pool, apart from the two records labelled
        [(f"x{i}", f"Extra example number {i} about carbon.", "yes") for i in range(4)]
    )
    run = make_run(
        tmp_path, BINARY, CLAIMS[:2], scripted_teacher(claims_answer), name="paper", n_shot=n_shot
    )
    run = Run(
        run.config,
        llm=scripted_teacher(claims_answer),
        embedder=HashingEmbedder(),
        inputs=CLAIMS[:2],
        pool=pool,
    )
    run.execute(progress=False)
    events = [
        json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    ]
    shown = [e["data"]["demonstrations"] for e in events if e["kind"] == "demonstrations"]
    for demos in shown:
        assert len(demos) == n_shot
        assert sum(d["source"] == "aligned" for d in demos) == retrieved
        assert [d["source"] for d in demos][: n_shot - retrieved] == ["static"] * (
            n_shot - retrieved
        )
    prompt = [
        p
        for p in run.ctx.teacher.backend.model.prompts
        if p[-1].content.rstrip().endswith("Answer (JSON only):")
    ][0]
    assert prompt[-1].content.count("Answer: ") == n_shot  # in the rendered prompt itself
