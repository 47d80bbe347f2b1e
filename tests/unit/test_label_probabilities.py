"""The teacher's confidence from the model's label probabilities, and its calibration."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from dualchecker.agents.backends import ChatBackend
from dualchecker.agents.calibration import (
    PoolSample,
    RepromptEffect,
    fit_calibration,
    pick_threshold,
    reliability,
)
from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.label_probs import from_top_logprobs, label_codes
from dualchecker.agents.prompting import PromptBook
from dualchecker.agents.scripted import ScriptedChatModel
from dualchecker.agents.teacher import Teacher
from dualchecker.agents.types import LabelDef, Record, Task
from dualchecker.data import DataSource
from dualchecker.events import read_events
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run, format_summary
from tests.fakes import BINARY, current_text, records

RECORD = Record(id="r1", text="We cut our emissions by 30 percent.")


def test_distribution_sums_to_one_and_matches_the_given_logprobs():
    given = {"yes": math.log(0.6), "no": math.log(0.3), "maybe": math.log(0.1)}
    model = ScriptedChatModel(responder=lambda m: "unused", logprobs=lambda m: given)
    attempt = Teacher(
        BINARY, ChatBackend(model), PromptBook(), confidence="token_probability"
    ).answer(RECORD, [])
    answer = attempt.answer
    assert answer.confidence_source == "token_probability"
    assert sum(answer.probabilities.values()) == pytest.approx(1.0)
    # "maybe" is no label: the labels share what the model gave them, renormalised
    assert answer.probabilities["yes"] == pytest.approx(0.6 / 0.9)
    assert answer.label == "yes" and answer.confidence == pytest.approx(2 / 3)
    # the prompt asked for the label alone, not for JSON with a stated confidence
    assert (
        "label only" in model.prompts[0][0].content and "JSON" not in model.prompts[0][-1].content
    )


def test_labels_that_share_a_first_token_are_asked_as_codes():
    task = Task(
        name="sdg",
        kind="multiclass",
        instructions="Which goal?",
        labels=[
            LabelDef(name="clean_water"),
            LabelDef(name="clean_energy"),
            LabelDef(name="no_goal"),
        ],
    )
    codes = label_codes(task.label_names)
    assert codes == {"clean_water": "1", "clean_energy": "2", "no_goal": "3"}
    model = ScriptedChatModel(
        responder=lambda m: "unused",
        logprobs=lambda m: {"2": math.log(0.7), "1": math.log(0.2), " 3": math.log(0.1)},
    )
    answer = (
        Teacher(task, ChatBackend(model), PromptBook(), confidence="token_probability")
        .answer(RECORD, [])
        .answer
    )
    assert answer.label == "clean_energy" and answer.probabilities["clean_energy"] == pytest.approx(
        0.7
    )
    assert "2 = clean_energy" in model.prompts[0][0].content
    assert from_top_logprobs([{"token": "clean", "logprob": 0.0}], task.label_names) is None


def test_a_backend_without_logprobs_falls_back_to_sample_agreement_and_says_so(caplog):
    # the first call asks for log-probabilities and gets plain text (it uses up the first "yes")
    said = itertools.cycle(["yes", "yes", "no", "yes", "yes"])
    model = ScriptedChatModel(
        responder=lambda m: json.dumps({"label": next(said), "confidence": 95, "rationale": "r"})
    )
    backend = ChatBackend(model)
    answer = (
        Teacher(BINARY, backend, PromptBook(), confidence="token_probability", samples=5)
        .answer(RECORD, [])
        .answer
    )
    assert backend.logprobs is False and "no log-probabilities" in caplog.text
    assert answer.confidence_source == "sample_agreement"
    assert answer.label == "yes" and answer.confidence == pytest.approx(0.8, abs=1e-3)
    assert answer.verbalised_confidence == pytest.approx(0.95)
    # with one sample, the stated number is all there is
    one = (
        Teacher(
            BINARY,
            ChatBackend(
                ScriptedChatModel(responder=lambda m: json.dumps({"label": "no", "confidence": 70}))
            ),
            PromptBook(),
            confidence="token_probability",
            samples=1,
        )
        .answer(RECORD, [])
        .answer
    )
    assert one.confidence_source == "verbalised" and one.confidence == pytest.approx(0.7)


def biased_sample(n: int, seed: int) -> list[PoolSample]:
    """A teacher that leans to "yes": it says yes with p = 0.55..0.95 whatever the gold label,
    but a little higher when the gold label really is yes."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gold = "yes" if rng.random() < 0.3 else "no"
        p_yes = float(np.clip(rng.normal(0.82 if gold == "yes" else 0.68, 0.06), 0.5, 0.99))
        out.append(PoolSample(record_id=str(i), gold=gold, teacher={"yes": p_yes, "no": 1 - p_yes}))
    return out


def test_calibration_removes_most_of_a_bias_toward_one_label():
    train, test = biased_sample(300, 0), biased_sample(300, 1)
    calibration = fit_calibration(["no", "yes"], train, use_neighbours=False)
    gold = np.array([s.gold == "yes" for s in test])
    raw_yes = np.array([s.teacher["yes"] > 0.5 for s in test])
    cal_yes = np.array([calibration.apply(s.teacher, None)["yes"] > 0.5 for s in test])
    # raw: everything is "yes"; calibrated: the yes-rate falls to near the true 30%
    assert raw_yes.mean() > 0.95
    assert abs(cal_yes.mean() - gold.mean()) < 0.15
    assert (cal_yes == gold).mean() > (raw_yes == gold).mean() + 0.3
    # and the calibrated confidence is calibrated: ECE drops
    raw_rel = reliability([max(s.teacher.values()) for s in test], raw_yes == gold)
    cal_conf = [max(calibration.apply(s.teacher, None).values()) for s in test]
    cal_rel = reliability(cal_conf, cal_yes == gold)
    assert cal_rel.ece < raw_rel.ece / 2


def test_threshold_rule_reprompts_below_target_but_never_more_than_the_cap():
    conf = np.array([0.5, 0.55, 0.6, 0.65, 0.9, 0.92, 0.95, 0.97, 0.98, 0.99])
    assert pick_threshold(conf, target_accuracy=0.75, max_rate=0.5) == 0.75  # 4 of 10 below
    capped = pick_threshold(conf, target_accuracy=0.75, max_rate=0.2)
    assert (conf < capped).sum() == 2  # the cap: at most 20% of the pool re-prompted


def dualchecker_run(tmp_path, logprobs, inputs, pool, *, batch_size: int, **method_fields):
    """The dualchecker method without the student, executed with a teacher whose label
    probabilities come from `logprobs`; returns the run and its summary."""
    model = ScriptedChatModel(
        responder=lambda m: json.dumps({"rationale": "because"}), logprobs=logprobs
    )
    config = RunConfig(
        task=BINARY,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("dualchecker", student=False, student_checker=False, **method_fields),
        run=RunSettings(dir=tmp_path / "run", batch_size=batch_size),
    )
    run = Run(config, llm=model, embedder=HashingEmbedder(), inputs=inputs, pool=pool)
    return run, run.execute(progress=False)


def noisy_block(block: int) -> list[Record]:
    """Twenty distinct texts: plain green claims and plain business news, claims the teacher's
    keywords miss or mistake, and hedged texts whose human label no word in them decides."""
    rows = []
    for j in range(20):
        i = 20 * block + j
        if j < 6:
            rows.append((f"a{i}", f"We cut carbon emissions at plant {i}.", "yes"))
        elif j < 13:
            rows.append((f"b{i}", f"Revenue grew in region {i} this year.", "no"))
        elif j == 13:  # a claim without a green keyword: the teacher says no
            rows.append((f"c{i}", f"We restored the wetlands near site {i}.", "yes"))
        elif j == 14:  # a keyword without a claim: the teacher says yes
            rows.append((f"d{i}", f"Our carbon fibre bikes sold well in shop {i}.", "no"))
        else:
            label = "yes" if j % 2 else "no"
            rows.append((f"e{i}", f"We may look at solar options for depot {i}.", label))
    return records(rows)


def noisy_teacher(messages):
    """Leans to "yes" on every text, by a keyword rule that knows no gold: surest on a green
    keyword, torn on a hedge, least sure on the rest. Wrong on the "c" and "d" texts."""
    text = current_text(messages).lower()
    if " may " in text:
        p = 0.78
    elif any(w in text for w in ("carbon", "solar", "recycl", "wind")):
        p = 0.9
    else:
        p = 0.65
    return {" yes": math.log(p), " no": math.log(1 - p)}


def test_calibration_undoes_a_noisy_teachers_bias_and_reprompts_the_torn_answers(tmp_path):
    pool = [r for b in range(2) for r in noisy_block(b)]
    inputs = noisy_block(2)
    run, summary = dualchecker_run(
        tmp_path,
        noisy_teacher,
        inputs,
        pool,
        batch_size=10,
        n_shot=2,
        calibration_size=40,
        neighbour_vote=False,  # the teacher's calibration alone: no pool probe to lean on
    )
    labelled = sorted(run.store.all(), key=lambda r: r.id)
    gold = np.array([r.gold_label == "yes" for r in labelled])
    first = [r.attempts[0].answer for r in labelled]
    assert all(a.confidence_source == "token_probability" for a in first)
    raw_yes = np.array([a.raw_probabilities["yes"] > 0.5 for a in first])
    said_yes = np.array([r.label == "yes" for r in labelled])
    assert raw_yes.all()  # the raw answers, kept beside the calibrated ones, all lean to yes
    # calibrated, the teacher says yes about as often as the humans do, and is right more often
    assert abs(said_yes.mean() - gold.mean()) < 0.2
    assert (said_yes == gold).mean() > (raw_yes == gold).mean() + 0.2
    # the calibrated confidence says how often the answer is right, and ranks right above wrong
    right = said_yes == gold
    confidence = np.array([r.confidence for r in labelled])
    raw_confidence = np.array([max(a.raw_probabilities.values()) for a in first])
    raw_gap = abs(raw_confidence.mean() - (raw_yes == gold).mean())
    assert abs(confidence.mean() - right.mean()) < raw_gap / 3
    assert roc_auc_score(right, confidence) > 0.65
    # the checker's calibrated threshold re-prompts the torn (hedged) answers, and only those
    reprompted = {r.id for r in labelled if r.reprompted}
    assert reprompted == {r.id for r in labelled if r.id.startswith("e")}
    # no gold reaches the labels: what the teacher's words get wrong stays wrong
    assert all(not right[k] for k, r in enumerate(labelled) if r.id[0] in "cd")
    fitted = next(e for e in read_events(tmp_path / "run" / "events.jsonl") if e.kind == "fitted")
    assert fitted.agent == "calibration" and fitted.data["answered"] == 40
    assert summary.teacher["f1"] == pytest.approx(f1_score(gold, said_yes), abs=1e-9)
    # each pool answer is logged as a calibration call, before the fit and the labelling
    events = read_events(tmp_path / "run" / "events.jsonl")
    answers = [e for e in events if e.agent == "calibration" and e.kind == "answer"]
    assert len(answers) == 40 and all(e.record_id is None for e in answers)
    assert max(e.seq for e in answers) < fitted.seq


def test_two_spans_of_one_type_round_trip_through_teacher_bio_and_scoring(tmp_path):
    from transformers import AutoTokenizer

    from dualchecker.agents.student import teacher_examples
    from dualchecker.evaluation import teacher_scores
    from dualchecker.training.config import default_student_model
    from dualchecker.training.data import bio_tag_names, spans_to_token_tags, token_tags_to_spans
    from tests.fakes import SPANS, scripted_teacher

    text = "Floods and a drought cut the harvest and raised prices."
    gold = Record(
        id="s1",
        text=text,
        spans=[
            {"type": "cause", "start": 0, "end": 6, "text": "Floods"},
            {"type": "cause", "start": 11, "end": 20, "text": "a drought"},
            {"type": "effect", "start": 21, "end": 36, "text": "cut the harvest"},
            {"type": "effect", "start": 41, "end": 54, "text": "raised prices"},
        ],
    )
    llm = scripted_teacher(
        lambda t, re: {
            "cause": ["Floods", "a drought"],
            "effect": ["cut the harvest", "raised prices"],
            "confidence": 90,
        }
    )
    config = RunConfig(
        task=SPANS,
        inputs=DataSource(path=tmp_path / "x.jsonl"),
        method=method("zero-shot", student=False),
        run=RunSettings(dir=tmp_path / "run"),
    )
    run = Run(config, llm=llm, embedder=HashingEmbedder(), inputs=[gold], pool=[gold])
    run.execute(progress=False)
    labelled = run.store.all()
    assert teacher_scores(SPANS, labelled)["f1"] == 1.0
    (example,), _ = teacher_examples(SPANS, labelled)
    tags = bio_tag_names(SPANS.span_type_names)
    tokenizer = AutoTokenizer.from_pretrained(default_student_model())
    offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    tag_ids = spans_to_token_tags(offsets, example.spans, {t: i for i, t in enumerate(tags)})
    back = token_tags_to_spans(offsets, tag_ids, dict(enumerate(tags)))
    assert sorted((s.type, text[s.start : s.end]) for s in back) == sorted(
        (s.type, s.text) for s in gold.spans
    )


def test_span_grammar_admits_only_runs_of_the_texts_words():
    from dualchecker.agents.grounding import quote_rules

    text = 'He said "stop" now, because  the rain fell.'
    _, rules = quote_rules(text)
    grammar = {line.split(" ::= ")[0]: line.split(" ::= ")[1] for line in rules}
    assert grammar["quote"] == " | ".join(f"run{i}" for i in range(8))
    # each run is its word then, optionally, the text's own gap and the next run: only substrings
    assert grammar["run2"] == '"\\\\\\"stop\\\\\\"" ( " " run3 )?'
    assert grammar["run4"] == '"because" ( "  " run5 )?'  # the double space is kept
    assert grammar["run7"] == '"fell."'


def test_the_pool_probe_answers_pool_examples_out_of_fold():
    """Random texts with random labels: a probe that had seen them would recite their labels."""
    import random

    from dualchecker.agents.aligner import ExampleIndex

    rng = random.Random(0)
    words = [f"w{i}" for i in range(400)]
    pool = [
        Record(id=str(i), text=" ".join(rng.sample(words, 12)), label=rng.choice(["no", "yes"]))
        for i in range(80)
    ]
    index = ExampleIndex(pool, HashingEmbedder())
    said = [index.probe(r, ["no", "yes"]) for r in pool]
    assert all(sum(p.values()) == pytest.approx(1.0) for p in said)
    recited = sum(max(p, key=p.get) == r.label for p, r in zip(said, pool)) / len(pool)
    assert recited < 0.75  # chance level, not the ~100% of an in-sample fit
    fresh = Record(id="new", text=pool[0].text + " extra words")
    assert sum(index.probe(fresh, ["no", "yes"]).values()) == pytest.approx(1.0)


def _judged_run(tmp_path, reprompt_gives: str):
    """A teacher sure of plain texts and torn on "report" texts; re-prompted, it says the gold
    label ("right") or the other one ("wrong"), strongly."""
    rows = []
    for i in range(12):
        rows += [
            (f"cy{i}", f"We cut carbon at plant {i}.", "yes"),
            (f"cn{i}", f"Revenue grew in region {i}.", "no"),
            (f"hy{i}", f"Our report on site {i} covers nature.", "yes"),
            (f"hn{i}", f"Our report on site {i} covers staffing.", "no"),
        ]
    everything = records(rows)
    pool, inputs = everything[:40], everything[40:]
    gold = {r.text: r.label for r in everything}

    def teacher(messages):
        text = current_text(messages)
        if "Take extra care" in messages[-1].content:
            said = (
                gold[text] if reprompt_gives == "right" else {"yes": "no", "no": "yes"}[gold[text]]
            )
            p_yes = 0.95 if said == "yes" else 0.05
        elif "report" in text:
            p_yes = 0.55
        else:
            p_yes = 0.9 if gold[text] == "yes" else 0.1
        return {" yes": math.log(p_yes), " no": math.log(1 - p_yes)}

    run, summary = dualchecker_run(
        tmp_path,
        teacher,
        inputs,
        pool,
        batch_size=4,
        n_shot=0,
        neighbour_vote=False,
        calibration_size=40,
    )
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").open()]
    fitted = next(e for e in events if e["agent"] == "calibration" and e["kind"] == "fitted")
    return fitted["data"]["calibration"], run.store.all(), format_summary(summary)


@pytest.mark.parametrize(
    ("reprompt_gives", "kept"), [("wrong", False), ("right", True)], ids=["harmful", "helpful"]
)
def test_reprompts_are_judged_on_the_pool_and_kept_only_where_they_help(
    tmp_path, reprompt_gives, kept
):
    calibration, labelled, printed = _judged_run(tmp_path, reprompt_gives)
    assert f"re-prompting {'kept' if kept else 'off'}" in printed  # the user is told
    effect = calibration["reprompt_effect"]
    assert effect["tried"] > 0  # the torn pool answers were re-prompted before labelling
    if kept:
        assert effect["wrong_to_right"] > effect["right_to_wrong"] and effect["harm_p_value"] == 1
        assert calibration["reprompt_threshold"] == calibration["threshold"] > 0
        assert any(r.reprompted for r in labelled)
    else:
        assert effect["right_to_wrong"] > effect["wrong_to_right"]
        assert effect["harm_p_value"] < 0.1
        assert calibration["reprompt_threshold"] == 0.0
        assert not any(r.reprompted for r in labelled)  # a harmful re-prompt is never asked


@pytest.mark.parametrize(
    ("fixed", "broken", "harmful"),
    [(2, 4, False), (0, 3, False), (1, 7, True), (0, 6, True), (5, 0, False), (0, 0, False)],
)
def test_reprompting_is_switched_off_only_on_significant_harm(fixed, broken, harmful):
    effect = RepromptEffect(tried=30, wrong_to_right=fixed, right_to_wrong=broken)
    assert effect.harmful is harmful
    calibration = fit_calibration(
        ["no", "yes"],
        [
            PoolSample(record_id=str(i), gold=g, teacher={"no": 0.3, "yes": 0.7})
            for i, g in enumerate(["yes", "no"] * 10)
        ],
        use_neighbours=False,
    ).model_copy(update={"reprompt_effect": effect})
    assert (calibration.reprompt_threshold == 0.0) is harmful


def test_calibration_sample_is_larger_for_labels_than_for_spans_unless_set():
    from dualchecker.adapters import CNC_SPANS, ENV_CLAIMS

    preset = method("dualchecker")
    # a span answer costs several calls (one per quote scored), a label answer one
    assert preset.calibration_examples(ENV_CLAIMS) > preset.calibration_examples(CNC_SPANS) >= 10
    chosen = method("dualchecker", calibration_size=50)
    assert chosen.calibration_examples(ENV_CLAIMS) == chosen.calibration_examples(CNC_SPANS) == 50
