"""No text of the shared benchmark data in the repository, and benchmark results kept small.

The data's licences forbid redistributing it (the Environmental Claims are CC BY-NC-SA), and a
run directory copies every text many times; kept results hold ids, offsets, labels and
probabilities only (`dualchecker.kept`). These tests read the shared data and every tracked file
(compressed kept files opened), and look for each data text as a run of words, so that JSON
escapes, line breaks and spacing cannot hide one.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.shared_data import DATA

ROOT = Path(__file__).resolve().parents[2]
MIN_CHARS = 40  # shorter texts are phrases anyone may write
KEY_WORDS = 6  # a text is looked up by its first words, then compared whole
RESULTS_BUDGET = 2_000_000  # bytes of benchmarks/results in the tree
WORD = re.compile(r"\w+")
ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def words(text: str) -> tuple[str, ...]:
    """The text as lower-case words, JSON's escapes undone."""
    text = ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = re.sub(r"\\[nrt\"\\/]", " ", text)
    return tuple(WORD.findall(text.lower()))


def claims_texts() -> list[str]:
    folder = DATA / "environmental_claims"
    return [
        json.loads(line)["text"]
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def cnc_texts() -> list[str]:
    folder = DATA / "causal_news_corpus"
    out = []
    for path in sorted(folder.glob("*_subtask*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            out += [row["text"] for row in csv.DictReader(handle)]
    return out


def tracked_texts() -> dict[str, tuple[str, ...]]:
    """Every tracked text file (gzip ones opened) as words, by path."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no list of tracked files")
    out = {}
    for name in listed.decode().split("\0"):
        path = ROOT / name
        if not name or not path.is_file():
            continue
        body = path.read_bytes()
        if name.endswith(".gz"):
            body = gzip.decompress(body)
        if b"\0" in body[:8192]:
            continue  # an image or other binary file
        out[name] = words(body.decode("utf-8", errors="replace"))
    return out


def files_holding(texts: list[str], files: dict[str, tuple[str, ...]]) -> dict[str, int]:
    """How many of `texts` (the long ones) each file holds, as a whole run of words."""
    by_key: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for text in texts:
        if len(" ".join(text.split())) >= MIN_CHARS:
            sentence = words(text)
            by_key.setdefault(sentence[:KEY_WORDS], set()).add(sentence)
    firsts = {key[0] for key in by_key}
    found = {}
    for name, seq in files.items():
        hits = set()
        for i, word in enumerate(seq):
            if word not in firsts:
                continue
            for sentence in by_key.get(seq[i : i + KEY_WORDS], ()):
                if seq[i : i + len(sentence)] == sentence:
                    hits.add(sentence)
        if hits:
            found[name] = len(hits)
    return found


@pytest.fixture(scope="module")
def files() -> dict[str, tuple[str, ...]]:
    return tracked_texts()


@pytest.mark.parametrize("dataset", ["environmental_claims", "causal_news_corpus"])
def test_no_tracked_file_holds_a_text_of_the_shared_data(dataset, files):
    if not (DATA / dataset).is_dir():
        pytest.skip(f"no shared data at {DATA / dataset}")
    texts = claims_texts() if dataset == "environmental_claims" else cnc_texts()
    assert len(texts) > 1000  # the data was read, not an empty folder
    assert files_holding(texts, files) == {}


def test_the_search_finds_a_text_however_it_is_escaped_or_wrapped():
    text = "We cut our Scope 1 emissions by 12% — and we’re proud of it."
    kept = json.dumps({"text": text})  # the dash and quote escaped as \\u2014, \\u2019
    wrapped = "As the report says:\n  we CUT our scope 1\nemissions by 12% - and we're proud of it"
    files = {"a.json": words(kept), "b.md": words(wrapped), "c.md": words(text[:30])}
    assert files_holding([text], files) == {"a.json": 1, "b.md": 1}


def test_benchmark_results_in_the_tree_stay_under_two_megabytes():
    listed = subprocess.run(
        ["git", "ls-files", "-z", "benchmarks/results"], cwd=ROOT, capture_output=True
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no list of tracked files")
    names = [n for n in listed.stdout.decode().split("\0") if n]
    assert names  # the tables are there
    size = sum((ROOT / n).stat().st_size for n in names if (ROOT / n).is_file())
    assert size < RESULTS_BUDGET, f"benchmarks/results holds {size:,} bytes"
