"""Memory of examples already trained on, so online updates do not forget them.

The reference student trained ten epochs on each 8-item batch alone and drifted to whatever
the latest batch said; mixing a sample of earlier examples into every update prevents that.
"""

from __future__ import annotations

import random

from .data import StudentExample


class ReplayBuffer:
    """All examples seen so far; ``sample`` draws uniformly without replacement."""

    def __init__(self, seed: int = 0) -> None:
        self._items: list[StudentExample] = []
        self._rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> list[StudentExample]:
        """A copy of the stored examples, oldest first."""
        return list(self._items)

    def add(self, examples: list[StudentExample]) -> None:
        """Remember examples after they have been trained on."""
        self._items.extend(examples)

    def sample(self, k: int) -> list[StudentExample]:
        """Up to ``k`` earlier examples (all of them when fewer are stored)."""
        if k >= len(self._items):
            return list(self._items)
        return self._rng.sample(self._items, k)
