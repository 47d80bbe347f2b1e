"""The README's set-up commands stay true: CI runs exactly the README's test command, which
brings what the tests need that pip cannot (headless Chromium)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_runs_the_readme_test_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    test_command = next(line for line in ci_lines if "pytest" in line and not line.startswith("#"))
    assert test_command in (ROOT / "README.md").read_text()


def test_readme_main_job_command_uses_the_embedded_default():
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[local]' && .venv/bin/dualchecker demo" in readme


def test_the_readme_test_command_brings_chromium_before_the_tests():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pytest" in line and "pip" in line)
    assert command.index("sh tests/setup_browser.sh &&") < command.index("pytest")


def fake_bin(tmp_path: Path, uid: int) -> Path:
    """`id` that reports `uid`, and `apt-get` that only writes down how it was called."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (folder / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "apt.log"}\n')
    for tool in folder.iterdir():
        tool.chmod(0o755)
    return folder


def setup_browser(tmp_path: Path, uid: int, browser: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{fake_bin(tmp_path, uid)}:{os.environ['PATH']}",
        "CHROMIUM": browser,
    }
    script = ROOT / "tests" / "setup_browser.sh"
    return subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)


def test_setup_browser_uses_a_browser_on_path(tmp_path):
    done = setup_browser(tmp_path, uid=0, browser="sh")
    assert done.returncode == 0 and not (tmp_path / "apt.log").exists()


def test_setup_browser_installs_debians_chromium_as_root(tmp_path):
    done = setup_browser(tmp_path, uid=0, browser="no-such-browser")
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls == ["update -qq", "install -y -qq chromium"]


def test_setup_browser_stops_with_the_command_to_run_when_not_root(tmp_path):
    done = setup_browser(tmp_path, uid=1000, browser="no-such-browser")
    assert done.returncode != 0 and not (tmp_path / "apt.log").exists()
    assert "sudo sh -c 'apt-get update -qq && apt-get install -y -qq chromium'" in done.stderr
