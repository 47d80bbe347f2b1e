"""The evaluation protocol: untouched records stay apart from everything a design choice sees."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from dualchecker.agents.aligner import normalise_text
from dualchecker.agents.types import Record
from dualchecker.protocol import nested_pool, splits, unlabelled_and_candidates
from tests.fakes import BINARY

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.mark.skipif(not (DATA / "environmental_claims").is_dir(), reason="no shared data")
@pytest.mark.parametrize("name", ["environmental_claims", "reuters_r8"])
def test_untouched_records_share_no_text_with_the_development_split_or_the_rest(name):
    cut = splits(name, DATA)
    texts = lambda part: {normalise_text(r.text) for r in part}
    assert not texts(cut.untouched) & texts(cut.development)
    assert not texts(cut.rest) & (texts(cut.untouched) | texts(cut.development))
    assert [r.id for r in splits(name, DATA).untouched] == [r.id for r in cut.untouched]
    unlabelled, candidates = unlabelled_and_candidates(cut.rest, 1000)
    assert len(unlabelled) == 1000 and not {r.id for r in unlabelled} & {r.id for r in candidates}


def test_pools_are_stratified_and_nested_for_one_seed():
    records = [
        Record(id=str(i), text=f"text {i}", label="yes" if i % 4 == 0 else "no") for i in range(400)
    ]
    small, large = (nested_pool(BINARY, records, n, seed=3) for n in (32, 128))
    assert len(small) == 32 and len(large) == 128
    assert {r.id for r in small} <= {r.id for r in large}
    assert Counter(r.label for r in small) == {"no": 24, "yes": 8}
    other = nested_pool(BINARY, records, 32, seed=4)
    assert {r.id for r in other} != {r.id for r in small}
