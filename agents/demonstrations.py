"""Which demonstrations the teacher sees: refined-template ones, then aligned or static examples.

One place decides, so the graph, the CLI's `prompt` command and the calibration all show the
teacher exactly the same prompt for a record.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from dualchecker.agents.aligner import ContextAligner, normalise_text
from dualchecker.agents.types import Demonstration, Record

Layout = Literal["aligned", "static", "paper"]


def paper_retrieved(n_shot: int) -> int:
    """Retrieved neighbours in the reference code's prompts: 0, 1, 1, 2 at 0, 1, 3, 5 shots
    (its `> 5` test never reaches a third)."""
    return 0 if n_shot <= 0 else 1 if n_shot < 5 else 2


def static_examples(pool: list[Record], n: int, seed: int) -> list[Record]:
    """A fixed, label-balanced set of gold examples (the few-shot/CoT/DToT baselines' demos)."""
    rng = random.Random(seed)
    by_answer: dict[Any, list[Record]] = {}
    for record in pool:
        if record.has_gold:
            by_answer.setdefault(record.label if record.spans is None else "spans", []).append(
                record
            )
    for group in by_answer.values():
        rng.shuffle(group)
    chosen: list[Record] = []
    groups = [by_answer[k] for k in sorted(by_answer, key=str)]
    while len(chosen) < n and any(groups):
        for group in groups:
            if group and len(chosen) < n:
                chosen.append(group.pop())
    return chosen


class DemonstrationPicker:
    """Picks a record's demonstrations by the method's layout.

    ``aligned``: the latest `template_size` refined-template demonstrations, then k retrieved
    examples (label-balanced when `balanced`, or restricted to `labels`, e.g. a re-prompt's two
    most likely). ``static``: the template, then the first k fixed examples. ``paper``: the
    reference code's mix, static examples, the latest feedback demonstration, then 0/1/1/2
    retrieved neighbours at 0/1/3/5 shots.
    """

    def __init__(
        self,
        aligner: ContextAligner,
        static: list[Record],
        *,
        layout: Layout = "aligned",
        n_shot: int = 5,
        template_size: int = 2,
        balanced: bool = False,
        explain_examples: bool = True,
    ):
        self.aligner, self.static = aligner, static
        self.layout, self.n_shot, self.template_size = layout, n_shot, template_size
        self.balanced, self.explain_examples = balanced, explain_examples

    def pick(
        self,
        record: Record,
        template: list[Demonstration],
        k: int,
        labels: list[str] | None = None,
    ) -> list[Demonstration]:
        """The demonstrations for `record`, `k` of them besides the template's."""
        if self.layout == "paper":
            n = self.n_shot
            new = template[-1:] if template and n else []
            new += self.aligner.demonstrations(record, paper_retrieved(n))
            # the reference's static examples carry hand-written reasons, never an LLM call
            return self.fixed(record, max(0, n - len(new)), explain=False) + new[:n]
        shown = template[-self.template_size :] if self.template_size else []
        if self.layout == "static":
            return shown + self.fixed(record, k)
        balanced = self.balanced or bool(labels)
        return shown + self.aligner.demonstrations(record, k, balanced=balanced, labels=labels)

    def fixed(self, record: Record, k: int, *, explain: bool | None = None) -> list[Demonstration]:
        """The first k of the fixed, label-balanced examples (never the record itself, nor a
        pool example with its text)."""
        explain = self.explain_examples if explain is None else explain
        own = normalise_text(record.text)
        examples = [r for r in self.static if r.id != record.id and normalise_text(r.text) != own][
            :k
        ]
        return [
            Demonstration.of(r, "static", rationale=self.aligner.rationale(r) if explain else "")
            for r in examples
        ]
