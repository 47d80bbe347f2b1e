"""The README's set-up commands stay true: CI runs exactly the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    test_command = next(line for line in ci_lines if "pytest" in line and not line.startswith("#"))
    assert test_command in (ROOT / "README.md").read_text()


def test_readme_main_job_command_uses_the_embedded_default():
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[local]' && .venv/bin/dualchecker demo" in readme
