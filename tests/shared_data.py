"""Where the shared benchmark data lives (never copied into the project)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DUALCHECKER_DATA", ROOT.parent / "shared" / "data"))


def data_file(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared data file {path} is missing (set DUALCHECKER_DATA to the data folder)")
    return path
