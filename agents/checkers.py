"""Checkers decide; they never call a model. Graph routers turn their verdicts into edges."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dualchecker.agents.types import Attempt, LabelledRecord, Record

TeacherVerdict = Literal["accept", "reprompt"]
FinalRule = Literal["most_confident", "latest"]


class TeacherChecker(BaseModel):
    """Re-prompt a low-confidence or unparseable answer, at most `max_reprompts` times.

    The final answer is, by default, the most confident valid attempt (ties go to the later one):
    a re-prompt that comes back *less* sure does not overwrite a better first answer. ``latest``
    reproduces the paper's reference code, which always kept the re-prompted answer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    threshold: float = Field(0.75, ge=0.0, le=1.0,
                             description="Re-prompt below this confidence (paper: 0.85 GPT-3.5, 0.75 Llama-2).")
    max_reprompts: int = Field(1, ge=0)
    final_rule: FinalRule = "most_confident"

    def verdict(self, attempts: list[Attempt]) -> TeacherVerdict:
        reprompts = sum(a.kind == "reprompt" for a in attempts)
        if reprompts >= self.max_reprompts:
            return "accept"
        last = attempts[-1]
        if last.answer is None or last.answer.confidence < self.threshold:
            return "reprompt"
        return "accept"

    def final(self, record: Record, attempts: list[Attempt],
              neighbours: list[str] | None = None) -> LabelledRecord:
        valid = [(i, a) for i, a in enumerate(attempts) if a.answer is not None]
        base = dict(id=record.id, text=record.text, gold_label=record.label,
                    gold_spans=record.spans, reprompted=len(attempts) > 1,
                    neighbours=neighbours or [], attempts=attempts)
        if not valid:
            return LabelledRecord(**base, error=attempts[-1].error or "no answer")
        if self.final_rule == "latest":
            chosen = valid[-1][1]
        else:
            chosen = max(valid, key=lambda pair: (pair[1].answer.confidence, pair[0]))[1]
        answer = chosen.answer
        first = attempts[0].answer
        return LabelledRecord(**base, label=answer.label, spans=list(answer.spans),
                              confidence=answer.confidence, rationale=answer.rationale,
                              before=first if len(attempts) > 1 else None)
