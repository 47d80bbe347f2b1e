"""The student config validates on creation and cannot change afterwards."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from dualchecker.training.config import StudentConfig


def test_default_model_is_the_packaged_minilm():
    config = StudentConfig(task="classification", num_labels=2)
    assert Path(config.model, "config.json").exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"task": "classification"},
        {"task": "spans"},
        {"task": "spans", "span_types": ["a", "a"]},
        {"task": "classification", "num_labels": 2, "typo_field": 1},
        {"task": "classification", "num_labels": 2, "learning_rate": 0},
    ],
)
def test_invalid_configs_fail(fields):
    with pytest.raises(pydantic.ValidationError):
        StudentConfig(model="m", **fields)


def test_config_is_frozen():
    config = StudentConfig(model="m", task="spans", span_types=["cause"])
    with pytest.raises(pydantic.ValidationError):
        config.replay = 3
