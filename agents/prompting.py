"""Render prompts from the Jinja2 files in `prompts/`, with a user folder taking precedence.

Prompts are data: one renderer, strict undefined variables (a typo fails loudly), and every
prompt a plain list of role/content dicts that traces and caches can store as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import jinja2

from dualchecker.agents.types import Demonstration, Record, Span, Task

PromptStyle = Literal["plain", "cot"]
AnswerStyle = Literal["json", "label"]


def demo_answer(demo: Demonstration, reasoning_first: bool = False) -> str:
    """A demonstration's answer and reason as plain lines, like the paper's "Answer: … Reason: …".

    Not JSON: a small model copies the shape of its examples, and the examples carry no
    confidence (humans gave none), so JSON examples teach it to leave the confidence out.
    """
    if demo.spans or demo.label is None:
        answer = "; ".join(f'{s.type} = "{s.text}"' for s in demo.spans) or "(nothing to extract)"
    else:
        answer = demo.label
    lines = [f"Answer: {answer}"]
    if demo.rationale:  # chain-of-thought examples reason before they answer
        lines.insert(0 if reasoning_first else 1, f"Reason: {demo.rationale}")
    return "\n".join(lines)


class PromptBook:
    """Finds and renders templates; `directory` overrides the packaged ones file by file."""

    def __init__(self, directory: str | Path | None = None):
        loaders: list[jinja2.BaseLoader] = []
        if directory is not None:
            loaders.append(jinja2.FileSystemLoader(str(directory)))
        loaders.append(jinja2.PackageLoader("dualchecker.prompts", "."))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self.env.globals["demo_answer"] = demo_answer

    def render(self, name: str, **variables: object) -> str:
        """Template `name` filled with `variables`, stripped; a missing variable is an error."""
        return self.env.get_template(name).render(**variables).strip()

    def teacher_messages(
        self,
        task: Task,
        record: Record,
        demonstrations: list[Demonstration],
        *,
        reprompt: bool,
        style: PromptStyle = "plain",
        answer_style: AnswerStyle = "json",
        codes: dict[str, str] | None = None,
        contrastive: bool = False,
    ) -> list[dict[str, str]]:
        """The teacher's prompt: standard and format (system), examples and the text (user).

        ``answer_style="label"`` asks for the label alone, whose probability is read from the
        model; ``"json"`` asks for label, stated confidence and rationale as one JSON object.
        """
        return self._conversation(
            "teacher",
            task=task,
            style=style,
            answer_style=answer_style,
            codes=codes,
            record=record,
            demonstrations=demonstrations,
            reprompt=reprompt,
            contrastive=contrastive,
            reasoning_first=style == "cot",
        )

    def rationale_messages(
        self,
        task: Task,
        text: str,
        *,
        label: str | None = None,
        spans: list[Span] | None = None,
        student_answer: str | None = None,
        source: Literal["annotators", "teacher"] = "annotators",
    ) -> list[dict[str, str]]:
        """Ask the teacher why a known answer is right (aligner), what a student missed, or why
        it chose its own label; ``source`` says truthfully whose answer it is."""
        return self._conversation(
            "rationale",
            task=task,
            text=text,
            label=label,
            spans=spans or [],
            student_answer=student_answer,
            source=source,
        )

    def _conversation(self, folder: str, **variables: object) -> list[dict[str, str]]:
        """The system and user messages from `folder`'s two templates, one set of variables."""
        return [
            {"role": role, "content": self.render(f"{folder}/{role}.jinja", **variables)}
            for role in ("system", "user")
        ]
