"""EvoKD baseline: the student's uncertain cases → the LLM names the error patterns → it writes
new labelled samples (one hard, one easy) that join the student's training data.

Unlike the paper's reference code, the LLM sees the student's real predictions, and the samples
it writes are used, in the online student and in the final one.
"""

from __future__ import annotations

from typing import Any

from dualchecker.agents.answers import (
    RATIONALE_SCHEMA,
    extract_json_object,
    locate_span,
    match_label,
    parse_rationale,
)
from dualchecker.agents.backends import ChatBackend
from dualchecker.agents.checkers import Borderline
from dualchecker.agents.prompting import PromptBook
from dualchecker.agents.types import LabelledRecord, Span, Task, Usage
from dualchecker.errors import AnswerParseError, BackendError


def samples_schema(task: Task) -> dict[str, Any]:
    """JSON schema for one or two written samples: a text with its label, or a quote per span type."""
    item: dict[str, Any] = {"text": {"type": "string"}}
    if task.is_spans:
        item.update({s.name: {"type": "string"} for s in task.span_types})
    else:
        item["label"] = {"type": "string", "enum": task.label_names}
    return {
        "type": "object",
        "required": ["samples"],
        "properties": {
            "samples": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "items": {"type": "object", "properties": item, "required": list(item)},
            }
        },
    }


def _describe(case: Borderline, spans: bool) -> tuple[str, str]:
    if spans:
        return (
            ", ".join(f'{s.type}="{s.text}"' for s in case.reference_spans),
            ", ".join(f'{s.type}="{s.text}"' for s in case.student_spans) or "nothing",
        )
    return f'"{case.reference_label}"', f'"{case.student_label}"'


def parse_samples(raw: str, task: Task, prefix: str) -> tuple[list[LabelledRecord], list[str]]:
    """Validated synthetic samples and the reasons for the ones rejected."""
    data = extract_json_object(raw)
    samples, rejected = [], []
    for i, item in enumerate(data.get("samples") or []):
        try:
            if not isinstance(item, dict) or not str(item.get("text", "")).strip():
                raise AnswerParseError("sample without text")
            text = str(item["text"]).strip()
            if task.is_spans:
                spans = []
                for span_type in task.span_type_names:
                    where = locate_span(text, str(item.get(span_type) or ""))
                    if where is None:
                        raise AnswerParseError(f"'{span_type}' is not a quote of the sample")
                    spans.append(
                        Span(
                            type=span_type,
                            start=where[0],
                            end=where[1],
                            text=text[where[0] : where[1]],
                        )
                    )
                samples.append(
                    LabelledRecord(id=f"{prefix}-{i}", text=text, spans=spans, confidence=1.0)
                )
            else:
                samples.append(
                    LabelledRecord(
                        id=f"{prefix}-{i}",
                        text=text,
                        confidence=1.0,
                        label=match_label(item.get("label"), task.label_names),
                    )
                )
        except AnswerParseError as exc:
            rejected.append(str(exc))
    return samples, rejected


class SampleWriter:
    """Two chained calls: summarise the student's error patterns, then write labelled samples."""

    def __init__(self, task: Task, backend: ChatBackend, prompts: PromptBook):
        self.task, self.backend, self.prompts = task, backend, prompts

    def write(
        self, cases: list[Borderline], texts: dict[str, str], prefix: str
    ) -> tuple[list[LabelledRecord], dict[str, Any]]:
        """New samples for the student's uncertain `cases`, with the error summary, the rejected
        samples' reasons and the tokens spent; a failed call yields no samples, not an error."""
        rows = []
        for case in cases:
            reference, student = _describe(case, self.task.is_spans)
            rows.append(
                {
                    "text": texts[case.record_id],
                    "reference": reference,
                    "student": student,
                    "confidence": case.student_confidence,
                }
            )
        usage, info = Usage(), {"summary": "", "rejected": []}
        try:
            analysis = self.backend.complete(
                [
                    {
                        "role": "user",
                        "content": self.prompts.render(
                            "evokd/analyse.jinja", task=self.task, cases=rows
                        ),
                    }
                ],
                RATIONALE_SCHEMA,
            )
            info["summary"] = parse_rationale(analysis.text)
            generated = self.backend.complete(
                [
                    {
                        "role": "user",
                        "content": self.prompts.render(
                            "evokd/generate.jinja", task=self.task, summary=info["summary"]
                        ),
                    }
                ],
                samples_schema(self.task),
            )
            usage = analysis.usage + generated.usage
            samples, info["rejected"] = parse_samples(generated.text, self.task, prefix)
        except (BackendError, AnswerParseError) as exc:
            info["rejected"].append(str(exc))
            samples = []
        info["usage"] = usage
        return samples, info
