"""A default run prints what the user needs, not library load reports."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from dualchecker.training.config import StudentConfig
from dualchecker.training.modeling import load_model
from dualchecker.training.testing import save_tiny_student


def test_loading_a_student_prints_no_transformers_load_report(tmp_path, capfd, caplog, monkeypatch):
    monkeypatch.delenv("DUALCHECKER_VERBOSE", raising=False)
    tiny = save_tiny_student(tmp_path / "tiny")
    caplog.set_level(logging.INFO)
    load_model(StudentConfig(model=tiny, task="classification", num_labels=2), [])
    out, err = capfd.readouterr()
    shown = out + err + caplog.text
    assert "LOAD REPORT" not in shown and "MISSING" not in shown


def test_verbose_brings_the_load_report_back(tmp_path, caplog, monkeypatch):
    from transformers.utils import logging as hf_logging

    monkeypatch.setenv("DUALCHECKER_VERBOSE", "1")
    # the CLI quiets library loggers for the whole process; another test may have run it
    library = logging.getLogger("transformers")
    monkeypatch.setattr(library, "level", logging.NOTSET)
    hf_logging.set_verbosity_warning()
    tiny = save_tiny_student(tmp_path / "tiny")
    with caplog.at_level(logging.WARNING):
        load_model(StudentConfig(model=tiny, task="classification", num_labels=2), [])
    assert "MISSING" in caplog.text


def test_every_command_reports_a_native_crash_with_the_python_stacks():
    """A fresh interpreter has no fault handler; after the CLI's setup a segfault prints the stack."""
    code = (
        "import faulthandler, os; from dualchecker.cli import main; "
        "print(faulthandler.is_enabled(), flush=True); main(verbose=False); faulthandler._sigsegv()"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["False"] and out.returncode != 0
    assert "Fatal Python error: Segmentation fault" in out.stderr
    assert "most recent call first" in out.stderr
