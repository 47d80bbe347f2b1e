"""Span calibration: candidates from the teacher and the pool tagger, weighed on the pool."""

from __future__ import annotations

import random

import pytest

from dualchecker.agents.embedders import HashingEmbedder
from dualchecker.agents.span_calibration import (
    SpanSample,
    candidates,
    fit_span_calibration,
    select,
    span_f1,
)
from dualchecker.agents.types import Record, Span
from dualchecker.data import DataSource
from dualchecker.events import read_events
from dualchecker.graph.config import RunConfig, RunSettings, method
from dualchecker.runner import Run
from tests.fakes import SPANS, scripted_teacher, span_record


def span(kind: str, start: int, end: int, p: float | None = None) -> Span:
    return Span(type=kind, start=start, end=end, text="x" * (end - start), confidence=p)


def test_candidates_merge_both_sources_by_key_and_describe_each():
    teacher = [span("cause", 0, 10, 0.9), span("effect", 20, 30, 0.6)]
    tagger = [span("cause", 0, 10, 0.8), span("effect", 22, 30, 0.7)]
    found = {s.key(): x for s, x in candidates(teacher, tagger)}
    assert set(found) == {("cause", 0, 10), ("effect", 20, 30), ("effect", 22, 30)}
    both = found[("cause", 0, 10)]
    assert both[:4].tolist() == pytest.approx([0.8, 1.0, 0.9, 1.0])
    teacher_only = found[("effect", 20, 30)]
    assert teacher_only[:4].tolist() == pytest.approx([0.0, 0.0, 0.6, 1.0])
    # it overlaps the tagger's effect 8 of 10 characters
    assert teacher_only[5] == pytest.approx(0.8)


def test_select_keeps_the_likelier_of_overlapping_spans_and_prices_the_set():
    scored = [
        (span("cause", 0, 10), 0.9),
        (span("cause", 2, 10), 0.7),
        (span("effect", 20, 30), 0.2),
    ]
    kept, confidence = select(scored, keep=0.5)
    assert [s.key() for s in kept] == [("cause", 0, 10)]
    # the kept span right (0.9), the overlapping one wrong (0.3), the unlikely one wrong (0.8)
    assert confidence == pytest.approx(0.9 * 0.3 * 0.8)


def synthetic_sample(n: int, seed: int) -> list[SpanSample]:
    """A teacher that finds the right clause but often misses its boundary, and a tagger with
    the right boundaries but spurious extra spans: neither alone is good, together they are."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        gold = [span("cause", 0, 20), span("effect", 30, 50)]
        teacher = [
            span("cause", 0, 20 if rng.random() < 0.4 else 18, rng.uniform(0.3, 0.9)),
            span("effect", 30 if rng.random() < 0.4 else 26, 50, rng.uniform(0.3, 0.9)),
        ]
        tagger = [span("cause", 0, 20, rng.uniform(0.6, 0.95)), span("effect", 30, 50, 0.7)]
        if rng.random() < 0.7:  # a spurious span the teacher never quotes
            tagger.append(span("effect", 60, 70, rng.uniform(0.6, 0.95)))
        out.append(
            SpanSample(
                record_id=str(i), gold=gold, teacher=teacher, teacher_confidence=0.5, tagger=tagger
            )
        )
    return out


def test_calibration_learns_to_combine_teacher_and_tagger_better_than_either():
    fitted = fit_span_calibration(synthetic_sample(80, seed=0))
    unseen = synthetic_sample(60, seed=1)
    combined = [fitted.apply(s.teacher, s.tagger)[0] for s in unseen]
    gold = [s.gold for s in unseen]
    f1 = span_f1(combined, gold)
    assert f1 > span_f1([s.teacher for s in unseen], gold) + 0.2
    assert f1 > span_f1([s.tagger for s in unseen], gold) + 0.1
    assert fitted.pool_f1["combined"] > max(fitted.pool_f1["teacher"], fitted.pool_f1["tagger"])
    assert 0.0 < fitted.neighbour_weight < 1.0


def test_calibration_refuses_a_sample_with_nothing_to_learn():
    sample = [
        SpanSample(
            record_id="a",
            gold=[span("cause", 0, 5)],
            teacher=[span("cause", 0, 5)],
            teacher_confidence=0.9,
            tagger=[],
        )
    ]
    with pytest.raises(ValueError, match="both right and wrong"):
        fit_span_calibration(sample)


VERBS = ("cuts", "lowers", "saves", "reduces")


class RuleTagger:
    """Stands in for the fine-tuned tagger without reading any gold: the two words after "Our"
    are the cause, a known verb and the word after it the effect, and on texts of an odd number
    of words a spurious effect (the first word). Right on two-word technologies and effects
    only: partly right on the inputs as on the pool, which no source here answers from."""

    def prefetch(self, records: list[Record]) -> None:
        pass

    def spans(self, record: Record) -> list[Span]:
        text, words = record.text, record.text.split()
        found = [self._quote(text, "cause", " ".join(words[1:3]), 0.8)]
        verb = next((i for i, w in enumerate(words) if w in VERBS), None)
        if verb is not None:
            found.append(self._quote(text, "effect", " ".join(words[verb : verb + 2]), 0.8))
        if len(words) % 2:  # a text-dependent mistake, as a real tagger makes
            found.append(self._quote(text, "effect", words[0], 0.8))
        return found

    @staticmethod
    def _quote(text: str, kind: str, quote: str, p: float) -> Span:
        start = text.index(quote)
        return Span(type=kind, start=start, end=start + len(quote), text=quote, confidence=p)


TECHS = ["heat pump", "LED lamp", "solar roof", "wind farm", "catalyst", "heat recovery unit"]
EFFECTS = ["cuts fuel use", "lowers demand", "saves water", "reduces waste"]


def sentence(i: int) -> Record:
    tech, effect = TECHS[i % 6], EFFECTS[i % 4]
    place = "in every site" if i % 3 else "at the old site near the river"
    return span_record(f"r{i}", f"Our {tech} {effect} {place} number {i}.", tech, effect)


POOL = [sentence(i) for i in range(48)]
INPUTS = [sentence(i) for i in range(48, 60)]


def test_span_run_weighs_teacher_against_pool_tagger(tmp_path):
    def answer(text, reprompt):  # the right clause, the cause with its article: a boundary miss
        words = text.split()
        return {"cause": " ".join(words[:3]), "effect": " ".join(words[3:5]), "confidence": 80}

    config = RunConfig(
        task=SPANS,
        inputs=DataSource(path=tmp_path / "unused.jsonl"),
        method=method(
            "dualchecker", student=False, student_checker=False, n_shot=1, calibration_size=40
        ),
        run=RunSettings(dir=tmp_path / "run", batch_size=4),
    )
    llm = scripted_teacher(answer)
    run = Run(config, llm=llm, embedder=HashingEmbedder(), inputs=INPUTS, pool=POOL)
    # 48 pool examples, 40 of them the calibration sample: the pool tagger is cross-fitted
    assert run.ctx.span_probe.cross_fitted
    run.ctx.span_probe = RuleTagger()  # a stand-in: this test is of the calibration
    run.execute(progress=False)
    events = read_events(tmp_path / "run" / "events.jsonl")
    fitted = [e for e in events if e.agent == "calibration" and e.kind == "fitted"]
    assert fitted, "the span calibration was not fitted"
    labelled = run.store.all()
    raw = [r.attempts[0].answer.raw_spans for r in labelled]
    assert all(spans is not None for spans in raw)
    gold = [r.gold_spans for r in labelled]
    final = [r.spans for r in labelled]
    tagged = [RuleTagger().spans(r) for r in labelled]
    # neither source is right alone: the teacher misses every cause's boundary, the tagger adds
    # a spurious first word to some texts; only the teacher's overlap tells that one apart
    assert span_f1(final, gold) > span_f1(raw, gold) + 0.3
    assert span_f1(final, gold) > span_f1(tagged, gold) + 0.05
    assert not any(s.text == "Our" or s.text.startswith("Our ") for f in final for s in f)
    assert [len(f) for f in final] == [2] * len(INPUTS)  # a cause and an effect each
    pool_f1 = fitted[-1].data["calibration"]["pool_f1"]
    assert pool_f1["combined"] > max(pool_f1["teacher"], pool_f1["tagger"])


def test_reprompt_flips_compare_span_sets_not_their_confidences():
    from dualchecker.agents.types import LabelledRecord, TeacherAnswer
    from dualchecker.runner import reprompt_flips

    gold = [span("cause", 0, 5)]
    wrong = TeacherAnswer(spans=[span("cause", 0, 4)], confidence=0.2)
    same = TeacherAnswer(spans=[span("cause", 0, 5, 0.3)], confidence=0.3)
    records = [
        LabelledRecord(
            id="a", text="x" * 9, spans=[span("cause", 0, 5, 0.9)], before=wrong, gold_spans=gold
        ),
        LabelledRecord(
            id="b", text="x" * 9, spans=[span("cause", 0, 5, 0.9)], before=same, gold_spans=gold
        ),
        LabelledRecord(
            id="c", text="x" * 9, spans=[span("cause", 0, 3)], before=same, gold_spans=gold
        ),
    ]
    assert reprompt_flips(records) == {"wrong_to_right": 1, "right_to_wrong": 1, "other": 0}
