"""The real MiniLM student fine-tunes for a handful of steps and its loss goes down."""

from __future__ import annotations

import pytest

from dualchecker.training import CharSpan, StudentConfig, StudentExample, StudentTrainer

pytestmark = pytest.mark.slow

TEXTS = [
    ("We cut our Scope 1 emissions by 30% through renewable electricity.", 1),
    ("Revenue grew 4% on higher volumes in North America.", 0),
    ("All our packaging will be recyclable or reusable by 2025.", 1),
    ("The board declared a quarterly dividend of 12 cents per share.", 0),
]


def test_minilm_classifier_learns_a_few_examples():
    config = StudentConfig(
        task="classification",
        num_labels=2,
        learning_rate=1e-4,
        online_warmup_steps=0,
        epochs_per_batch=6,
        replay=0,
        max_length=32,
        seed=0,
    )
    trainer = StudentTrainer(config)
    examples = [StudentExample(id=str(i), text=t, label=y) for i, (t, y) in enumerate(TEXTS)]
    report = trainer.fit_batch(examples)
    assert report.steps == 6
    assert report.loss < report.epoch_losses[0]
    predictions = trainer.predict([t for t, _ in TEXTS])
    assert [p.label for p in predictions] == [y for _, y in TEXTS]


def test_minilm_tagger_runs_end_to_end():
    text = "Heavy rain caused floods in the valley ."
    spans = [CharSpan(start=0, end=10, type="cause"), CharSpan(start=18, end=38, type="effect")]
    config = StudentConfig(
        task="spans", span_types=["cause", "effect"], learning_rate=5e-4, max_length=32, seed=0
    )
    trainer = StudentTrainer(config)
    report = trainer.fit([StudentExample(id="0", text=text, spans=spans)] * 4, epochs=6)
    assert report.loss < report.epoch_losses[0]
    prediction = trainer.predict([text])[0]
    assert 0 < prediction.confidence <= 1
