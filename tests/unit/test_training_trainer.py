"""The trainer on a tiny random BERT: it learns, ignores padding, replays, keeps its LR, saves."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score

from dualchecker.training import (
    CharSpan,
    StudentConfig,
    StudentError,
    StudentExample,
    StudentTrainer,
    train_and_evaluate,
)
from dualchecker.training.testing import save_tiny_student

WORDS = ["green", "solar", "wind", "carbon", "profit", "revenue", "shares", "dividend"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return save_tiny_student(tmp_path_factory.mktemp("tiny"))


def fast_student(tiny: str, **fields) -> StudentTrainer:
    """The tiny model set to learn within a few batches: high LR, no warmup, no replay."""
    fast = dict(
        model=tiny,
        learning_rate=1e-2,
        online_warmup_steps=0,
        epochs_per_batch=30,
        replay=0,
        train_batch_size=8,
    )
    return StudentTrainer(StudentConfig(**{**fast, **fields}))


def classifier(tiny: str, **overrides) -> StudentTrainer:
    return fast_student(tiny, task="classification", num_labels=2, **overrides)


def tagger(tiny: str, **overrides) -> StudentTrainer:
    return fast_student(tiny, task="spans", span_types=["cause", "effect"], **overrides)


def claims(n: int = 8, offset: int = 0) -> list[StudentExample]:
    return [
        StudentExample(id=f"c{offset + i}", text=f"the {w} report", label=int(i < len(WORDS) // 2))
        for i, w in enumerate(WORDS[:n])
    ]


def causal() -> list[StudentExample]:
    examples = []
    for i, (cause, effect) in enumerate(zip(WORDS, reversed(WORDS))):
        text = f"the {cause} caused {effect}"
        spans = [
            CharSpan(start=4, end=4 + len(cause), type="cause"),
            CharSpan(start=len(text) - len(effect), end=len(text), type="effect"),
        ]
        examples.append(StudentExample(id=f"s{i}", text=text, spans=spans))
    return examples


def memorise(trainer: StudentTrainer, examples: list[StudentExample]) -> list:
    """One fit_batch, which must cut the loss five-fold; then predictions on the same texts."""
    report = trainer.fit_batch(examples)
    assert report.loss < report.epoch_losses[0] / 5
    return trainer.predict([ex.text for ex in examples])


def test_fit_batch_memorises_labels(tiny):
    examples = claims()
    predictions = memorise(classifier(tiny), examples)
    assert [p.label for p in predictions] == [ex.label for ex in examples]
    assert all(p.confidence == max(p.probs) and abs(sum(p.probs) - 1) < 1e-5 for p in predictions)


def test_fit_batch_memorises_spans(tiny):
    examples = causal()
    predictions = memorise(tagger(tiny), examples)
    assert [[s.key() for s in p.spans] for p in predictions] == [
        [s.key() for s in ex.spans] for ex in examples
    ]
    assert all(0.5 < s.confidence <= 1 for p in predictions for s in p.spans)
    assert all(0.5 < p.confidence <= 1 and p.label is None for p in predictions)


@pytest.mark.parametrize("build", [classifier, tagger])
def test_padding_does_not_change_predictions(tiny, build):
    trainer = build(tiny, eval_batch_size=8)
    short = "the rain caused floods"
    alone = trainer.predict([short])[0]
    padded = trainer.predict([short, "a much longer sentence " * 10])[0]
    assert alone.spans == padded.spans
    assert alone.confidence == pytest.approx(padded.confidence, abs=1e-5)
    if alone.probs:
        assert torch.allclose(torch.tensor(alone.probs), torch.tensor(padded.probs), atol=1e-5)


def test_later_batches_replay_earlier_examples(tiny, monkeypatch):
    trainer = classifier(tiny, replay=3, epochs_per_batch=1)
    seen: list[list[str]] = []
    original = StudentTrainer._train

    def spy(self, examples, *args):
        seen.append([ex.id for ex in examples])
        return original(self, examples, *args)

    monkeypatch.setattr(StudentTrainer, "_train", spy)
    first, second = claims(4), claims(4, offset=100)
    trainer.fit_batch(first)
    report = trainer.fit_batch(second)
    assert seen[0] == ["c0", "c1", "c2", "c3"]
    assert seen[1][:4] == ["c100", "c101", "c102", "c103"]
    replayed = seen[1][4:]
    assert len(replayed) == 3 and set(replayed) <= {"c0", "c1", "c2", "c3"}
    assert (report.replayed, report.examples) == (3, 7)
    assert len(trainer.replay) == 8


def test_unlabelled_examples_are_skipped_never_filled(tiny):
    trainer = classifier(tiny, epochs_per_batch=1)
    examples = claims(4) + [StudentExample(id="nolabel", text="the wind report")]
    report = trainer.fit_batch(examples)
    assert (report.skipped, report.examples) == (1, 4)
    assert "nolabel" not in {ex.id for ex in trainer.replay.items}
    nothing = trainer.fit_batch([StudentExample(id="n2", text="the sun report")])
    assert (nothing.steps, nothing.skipped, nothing.loss) == (0, 1, None)


def test_online_lr_never_collapses(tiny):
    # The reference schedule was exactly 0 from batch 51 on; here it holds after warmup.
    trainer = classifier(
        tiny, learning_rate=1e-4, online_warmup_steps=5, epochs_per_batch=1, replay=2
    )
    reports = [trainer.fit_batch(claims(2, offset=10 * i)) for i in range(55)]
    assert reports[0].learning_rate < 1e-4
    assert all(r.learning_rate == pytest.approx(1e-4) for r in reports[5:])
    assert trainer.learning_rate == pytest.approx(1e-4)


def test_offline_fit_warms_up_and_decays_to_zero(tiny):
    trainer = classifier(tiny, learning_rate=1e-2, train_batch_size=4, warmup_ratio=0.25)
    report = trainer.fit(claims(), epochs=8)
    assert report.steps == 16
    assert report.learning_rate == 0.0
    assert [p.label for p in trainer.predict([ex.text for ex in claims()])] == [
        ex.label for ex in claims()
    ]
    assert len(trainer.replay) == 0


def test_labels_the_model_cannot_hold_are_rejected(tiny):
    with pytest.raises(StudentError, match="num_labels"):
        classifier(tiny).fit_batch([StudentExample(id="x", text="t", label=5)])
    bad = StudentExample(id="y", text="rain", spans=[CharSpan(start=0, end=4, type="signal")])
    with pytest.raises(StudentError, match="unknown span types"):
        tagger(tiny).fit_batch([bad])


def test_save_and_load_keep_predictions_replay_and_lr(tiny, tmp_path):
    trainer = tagger(tiny, epochs_per_batch=2, online_warmup_steps=100)
    trainer.fit_batch(causal())
    trainer.save(tmp_path / "student")
    loaded = StudentTrainer.load(tmp_path / "student", device="cpu")
    texts = [ex.text for ex in causal()]
    assert [p.model_dump() for p in loaded.predict(texts)] == [
        p.model_dump() for p in trainer.predict(texts)
    ]
    assert [ex.id for ex in loaded.replay.items] == [ex.id for ex in trainer.replay.items]
    assert loaded.learning_rate == pytest.approx(trainer.learning_rate)
    assert loaded.config.span_types == ["cause", "effect"]


def span_prf(gold: list[list[CharSpan]], said: list[list[CharSpan]]) -> tuple[float, ...]:
    """Exact-match micro precision, recall and F1, counted here from the spans themselves."""
    hits = sum(len({s.key() for s in g} & {s.key() for s in p}) for g, p in zip(gold, said))
    n_said, n_gold = sum(len(p) for p in said), sum(len(g) for g in gold)
    precision, recall = hits / n_said if n_said else 0.0, hits / n_gold
    return precision, recall, 2 * hits / (n_said + n_gold)


def test_train_and_evaluate_reports_headline_and_throughput(tiny):
    config = StudentConfig(
        model=tiny, task="classification", num_labels=2, learning_rate=1e-2, train_batch_size=8
    )
    test = [ex.model_copy(update={"text": f"a {w} summary"}) for ex, w in zip(claims(), WORDS)]
    report = train_and_evaluate(config, claims(), test[:6], epochs=16)
    assert (report.n_train, report.n_test, report.fit.steps) == (8, 6, 16)
    assert report.fit.epoch_losses[-1] < report.fit.epoch_losses[0] / 2
    # the scores are those of the answers it kept, in the test examples' order
    gold, said = [ex.label for ex in test[:6]], [p.label for p in report.predictions]
    assert report.f1 == report.scores["f1"] == pytest.approx(f1_score(gold, said, zero_division=0))
    assert report.scores["precision"] == pytest.approx(precision_score(gold, said, zero_division=0))
    assert report.scores["accuracy"] == pytest.approx(accuracy_score(gold, said))
    assert report.train_samples_per_s == pytest.approx(8 * 16 / report.train_seconds)
    spans = StudentConfig(
        model=tiny, task="spans", span_types=["cause", "effect"], learning_rate=1e-2
    )
    held_out = causal()[::2]
    report = train_and_evaluate(spans, causal()[1::2], held_out, epochs=1)
    found = span_prf([ex.spans for ex in held_out], [p.spans for p in report.predictions])
    assert [report.scores[k] for k in ("precision", "recall", "f1")] == pytest.approx(found)
    assert "token_f1" in report.scores
