"""`dualchecker demo` as a new user sees it: its own progress bars, and no library's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from dualchecker.training.testing import save_tiny_student
from tests.fakes import BINARY, TEST_DATA

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RAY_PREFIX = re.compile(r"^\((?:[\w.]+ )?pid=\d+(?:, ip=[\d.]+)?\) ")
# a tqdm bar: "desc: 40%|████ | 2/5 [00:01<00:02, 1.5it/s]" (or "desc: 3it [00:01, ...]")
BAR = re.compile(r"^(.*?):\s+(?:\d+%\|[^|]*\|\s*[\d.]+k?/[\d.]+k?|[\d.]+k?\w*) \[\d")


def bars(output: str) -> set[str]:
    """The names of the progress bars in a captured output (each redraw is a \\r-separated part)."""
    names = set()
    for part in re.split(r"[\r\n]+", ANSI.sub("", output)):
        part = RAY_PREFIX.sub("", part.strip())
        if found := BAR.match(part):
            names.add(found.group(1).strip())
    return names


def ours(name: str) -> bool:
    """The run's own bars: labelling, the calibration's steps, a student's fine-tuning epochs."""
    return name == "labelling" or name.startswith("calibration: ") or name.endswith(": fine-tuning")


def test_bars_are_recognised():
    shown = "labelling:  40%|████      | 8/20 [00:05<00:07, 1.6rec/s]\rWriting model shards: 100%|█| 1/1 [00:00<00:00, 290.20it/s]\n"
    shown += "\x1b[2m\x1b[36m(pid=22404)\x1b[0m teacher_labels: fine-tuning:   0%|   | 0.00/8.00 [00:00<?, ?epoch/s]\n"
    assert bars(shown) == {"labelling", "Writing model shards", "teacher_labels: fine-tuning"}
    assert ours("teacher_labels: fine-tuning") and not ours("Writing model shards")


def quiet_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DUALCHECKER_VERBOSE"}


def test_students_fine_tuned_in_ray_workers_show_their_epochs_and_no_library_bars(tmp_path):
    """The final students are trained and saved in Ray workers, where transformers draws a
    "Writing model shards" bar on every save unless told not to."""
    held_out = tmp_path / "held_out.jsonl"
    held_out.write_text(
        "".join(
            json.dumps({"id": f"h{i}", "text": text, "label": label}) + "\n"
            for i, (text, label) in enumerate(
                [("Our trucks run on biogas.", "yes"), ("The shares fell.", "no")]
            )
        )
    )
    config = {
        "task": BINARY.model_dump(mode="json"),
        "inputs": {"path": str(TEST_DATA / "claims_six.jsonl")},
        "backend": {
            "kind": "scripted",
            "params": {"rules": [{"replies": ['{"label": "yes", "confidence": 90}']}]},
        },
        "method": {"name": "zero-shot"},
        "retrieval": {"kind": "hashing"},
        "student": {
            "model": save_tiny_student(tmp_path / "tiny"),
            "final_epochs": 2,
            "eval": {"path": str(held_out)},
        },
        "run": {"dir": str(tmp_path / "run")},
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "dualchecker.cli", "label", str(path)],
        capture_output=True,
        text=True,
        env=quiet_env(),
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Writing model shards" not in output
    shown = bars(output)
    assert {"teacher_labels: fine-tuning", "gold_labels: fine-tuning"} <= shown, output[-3000:]
    assert {name for name in shown if not ours(name)} == set(), output[-3000:]


@pytest.mark.slow
def test_the_demo_shows_its_own_progress_and_no_library_bars(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dualchecker.cli", "demo", "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=quiet_env(),
        timeout=3600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Writing model shards" not in output
    shown = bars(output)
    assert {"labelling", "calibration: pool answers"} <= shown, output[-3000:]
    assert any(name.startswith("teacher_labels: ") for name in shown)  # the final students' epochs
    assert {name for name in shown if not ours(name)} == set(), output[-3000:]
