"""Teacher: an LLM labels a record given demonstrations, with a confidence and a rationale."""

from __future__ import annotations

from dualchecker.agents.answers import answer_schema, parse_answer
from dualchecker.agents.backends import ChatBackend
from dualchecker.agents.prompting import PromptBook, PromptStyle
from dualchecker.agents.types import Attempt, Demonstration, Record, Task
from dualchecker.errors import AnswerParseError, BackendError


class Teacher:
    """Builds the prompt, asks the backend, validates the reply; never raises on a bad reply."""

    def __init__(self, task: Task, backend: ChatBackend, prompts: PromptBook,
                 *, style: PromptStyle = "plain"):
        self.task, self.backend, self.prompts, self.style = task, backend, prompts, style
        self.schema = answer_schema(task)

    def messages(self, record: Record, demonstrations: list[Demonstration], *,
                 reprompt: bool) -> list[dict[str, str]]:
        return self.prompts.teacher_messages(self.task, record, demonstrations, reprompt=reprompt,
                                             style=self.style)

    def answer(self, record: Record, demonstrations: list[Demonstration], *,
               reprompt: bool = False) -> Attempt:
        """One call. A dead backend or a malformed reply becomes an Attempt with an error."""
        messages = self.messages(record, demonstrations, reprompt=reprompt)
        kind = "reprompt" if reprompt else "initial"
        try:
            reply = self.backend.complete(messages, self.schema)
        except BackendError as exc:
            return Attempt(kind=kind, messages=messages, error=f"backend: {exc}")
        try:
            answer = parse_answer(reply.text, self.task, record.text)
        except AnswerParseError as exc:
            return Attempt(kind=kind, messages=messages, raw=reply.text, error=f"parse: {exc}",
                           usage=reply.usage, seconds=reply.seconds, cached=reply.cached)
        return Attempt(kind=kind, messages=messages, raw=reply.text, answer=answer,
                       usage=reply.usage, seconds=reply.seconds, cached=reply.cached)
