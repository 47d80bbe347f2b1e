"""Template refinement: the teacher explains what the student got wrong; that becomes a demonstration.

The explanation is for the *reference* answer (the human label where one exists), so later
teacher prompts carry the humans' standard exactly where the distillation went astray.
"""

from __future__ import annotations

import json
import re

from dualchecker.agents.answers import RATIONALE_CHARS, RATIONALE_SCHEMA, parse_rationale
from dualchecker.agents.backends import ChatBackend, Completion
from dualchecker.agents.checkers import Borderline
from dualchecker.agents.prompting import PromptBook
from dualchecker.agents.types import Demonstration, Record, Task

# A small teacher asked why the student was wrong often opens with "The student's answer is
# correct because…", and later prompts would then teach that phrasing. Such sentences go.
_PRAISE = re.compile(
    r"[^.!?]*\bstudent(?:'s| model's)? (?:answer|label|prediction) (?:is|was) "
    r"(?:correct|right|accurate)[^.!?]*[.!?]?\s*",
    re.IGNORECASE,
)


def without_praise_for_the_student(rationale: str) -> str:
    """The feedback rationale without sentences that call the (wrong) student answer correct."""
    return _PRAISE.sub("", rationale).strip()


def student_answer_text(case: Borderline) -> str:
    """The student's answer as the feedback prompt quotes it: a quoted label, or spans as JSON."""
    if case.student_spans or case.reference_spans:
        return json.dumps({s.type: s.text for s in case.student_spans}, ensure_ascii=False)
    return f'"{case.student_label}"'


class TemplateRefiner:
    """Turns a borderline case into a template demonstration with the teacher's explanation."""

    def __init__(self, task: Task, backend: ChatBackend, prompts: PromptBook):
        self.task, self.backend, self.prompts = task, backend, prompts

    def messages(self, record: Record, case: Borderline) -> list[dict[str, str]]:
        """The prompt asking the teacher to explain the reference answer against the student's."""
        return self.prompts.rationale_messages(
            self.task,
            record.text,
            label=case.reference_label,
            spans=case.reference_spans or None,
            student_answer=student_answer_text(case),
            source="annotators" if case.reason == "wrong vs gold" else "teacher",
        )

    def demonstration(
        self, record: Record, case: Borderline
    ) -> tuple[Demonstration, Completion | None]:
        """The new demonstration; without an explanation (dead backend) it still shows the answer."""
        from dualchecker.errors import BackendError

        try:
            reply = self.backend.complete(self.messages(record, case), RATIONALE_SCHEMA)
        except BackendError:
            reply = None
        rationale = parse_rationale(reply.text, limit=RATIONALE_CHARS) if reply else ""
        return Demonstration(
            source="template",
            record_id=record.id,
            text=record.text,
            label=case.reference_label,
            spans=case.reference_spans,
            rationale=without_praise_for_the_student(rationale),
            answer_source="annotators" if case.reason == "wrong vs gold" else "teacher",
        ), reply
