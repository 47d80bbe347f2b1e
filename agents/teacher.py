"""Teacher: an LLM labels a record given demonstrations, with a confidence and a rationale.

Two ways to get the confidence, chosen per method:
- ``token_probability`` (classification): the prompt asks for the label alone and the model's
  probability of every label is read (see `label_probs`); one prompt pass, no sampling, no
  rationale. Backends without log-probabilities fall back to agreement over `samples` JSON
  answers, and with one sample to the stated number; the answer records which.
- ``verbalised``: one JSON answer with label (or spans), a stated confidence and a rationale, as
  in the paper. Span tasks always answer this way.
"""

from __future__ import annotations

import copy
import json
from typing import Literal

from dualchecker.agents.answers import (
    RATIONALE_CHARS,
    RATIONALE_SCHEMA,
    answer_schema,
    parse_answer,
    parse_rationale,
)
from dualchecker.agents.backends import ChatBackend
from dualchecker.agents.grounding import span_grammar
from dualchecker.agents.label_probs import LabelReading, from_samples, label_codes
from dualchecker.agents.prompting import PromptBook, PromptStyle
from dualchecker.agents.types import Attempt, Demonstration, Record, Task, TeacherAnswer, Usage
from dualchecker.errors import AnswerParseError, BackendError

ConfidenceMode = Literal["token_probability", "verbalised"]
REASK = (
    "Your reply could not be used: {error}. Answer again with one JSON object in the "
    "format asked for, and nothing else."
)


class Teacher:
    """Builds the prompt, asks the backend, validates the reply; never raises on a bad reply."""

    def __init__(
        self,
        task: Task,
        backend: ChatBackend,
        prompts: PromptBook,
        *,
        style: PromptStyle = "plain",
        confidence: ConfidenceMode = "verbalised",
        samples: int = 5,
        verbalise: bool = False,
        max_reasks: int = 1,
    ):
        self.task, self.backend, self.prompts, self.style = task, backend, prompts, style
        self.schema = answer_schema(task, reasoning_first=style == "cot")
        self.confidence = "verbalised" if task.is_spans else confidence
        # span answers are JSON either way; their confidence is read from the model when it can
        self.confidence_of_spans = task.is_spans and confidence == "token_probability"
        self.samples = samples
        self.verbalise = verbalise
        self.max_reasks = max_reasks
        self.codes = (
            None
            if task.is_spans or backend_scores_labels(backend)
            else label_codes(task.label_names)
        )

    def for_agent(self, agent: str) -> Teacher:
        """The same teacher, its calls booked under `agent` (e.g. "calibration")."""
        clone = copy.copy(self)
        clone.backend = self.backend.for_agent(agent)
        return clone

    @property
    def reads_probabilities(self) -> bool:
        """True while label probabilities come from the model (until a backend shows it has none)."""
        return self.confidence == "token_probability" and self.backend.logprobs is not False

    def messages(
        self,
        record: Record,
        demonstrations: list[Demonstration],
        *,
        reprompt: bool,
        contrastive: bool = False,
    ) -> list[dict[str, str]]:
        """The teacher's prompt for `record`, asking for the label alone while probabilities are
        read from the model, else for a JSON answer."""
        style = "label" if self.reads_probabilities else "json"
        return self.prompts.teacher_messages(
            self.task,
            record,
            demonstrations,
            reprompt=reprompt,
            style=self.style,
            answer_style=style,
            codes=self.codes if style == "label" else None,
            contrastive=contrastive,
        )

    def answer(
        self,
        record: Record,
        demonstrations: list[Demonstration],
        *,
        reprompt: bool = False,
        contrastive: bool = False,
    ) -> Attempt:
        """One teacher answer. A dead backend or a malformed reply becomes an Attempt with an error."""
        kind = "reprompt" if reprompt else "initial"
        if self.reads_probabilities:
            messages = self.messages(
                record, demonstrations, reprompt=reprompt, contrastive=contrastive
            )
            try:
                reading, reply = self.backend.read_labels(
                    messages, self.task.label_names, codes=self.codes, verbalise=self.verbalise
                )
            except BackendError as exc:
                return Attempt(kind=kind, messages=messages, error=f"backend: {exc}")
            if reading is not None:
                return Attempt(
                    kind=kind,
                    messages=messages,
                    raw=reply.text,
                    answer=answer_from_reading(reading),
                    usage=reply.usage,
                    seconds=reply.seconds,
                    cached=reply.cached,
                )
        if self.confidence == "token_probability" and self.samples > 1:
            return self._sample(record, demonstrations, kind, contrastive)
        return self._ask_json(record, demonstrations, kind, contrastive)

    def _ask_json(
        self,
        record: Record,
        demonstrations: list[Demonstration],
        kind: str,
        contrastive: bool,
        seed: int | None = None,
    ) -> Attempt:
        messages = self.messages(
            record, demonstrations, reprompt=kind == "reprompt", contrastive=contrastive
        )
        backend = self.backend if seed is None else self.backend.sampling(seed)
        grammar = None
        if self.task.is_spans:
            grammar = span_grammar(
                self.task,
                record.text,
                rationale_chars=0 if self.confidence_of_spans else 160,
                reasoning_first=self.style == "cot",
            )
        asked, usage, seconds, error, answer = list(messages), Usage(), 0.0, None, None
        for reask in range(self.max_reasks + 1):
            try:
                reply = backend.complete(asked, self.schema, grammar=grammar)
            except BackendError as exc:
                return Attempt(
                    kind=kind,
                    messages=messages,
                    error=f"backend: {exc}",
                    reasks=reask,
                    usage=usage,
                    seconds=seconds,
                )
            usage, seconds = usage + reply.usage, seconds + reply.seconds
            try:
                answer = parse_answer(reply.text, self.task, record.text)
            except AnswerParseError as exc:
                error = f"parse: {exc}"
                # instructor-style: show the model its reply and what was wrong with it
                asked = [
                    *messages,
                    {"role": "assistant", "content": reply.text},
                    {"role": "user", "content": REASK.format(error=exc)},
                ]
                continue
            if self.task.is_spans and answer.spans and self.confidence_of_spans:
                answer = self._span_probabilities(messages, reply.text, answer)
            error = None
            break
        return Attempt(
            kind=kind,
            messages=messages,
            raw=reply.text,
            answer=None if error else answer,
            error=error,
            usage=usage,
            seconds=seconds,
            cached=reply.cached,
            reasks=reask,
        )

    def _span_probabilities(
        self, messages: list[dict[str, str]], raw: str, answer: TeacherAnswer
    ) -> TeacherAnswer:
        """Each quote's probability under the model (geometric mean over its tokens, read by
        teacher-forcing the reply up to the quote); the answer is as sure as its weakest span.
        Backends that cannot score text keep the stated number."""
        spans, cursor = [], 0
        for span in answer.spans:
            quoted = json.dumps(span.text, ensure_ascii=False)[1:-1]
            at = raw.find('"' + quoted + '"', cursor)
            if at < 0:  # matched loosely (case, spaces): no exact quote to score
                spans.append(span)
                continue
            cursor = at + len(quoted) + 2
            p = self.backend.continuation_confidence(messages, raw[: at + 1], quoted + '"')
            if p is None:
                return answer
            spans.append(span.model_copy(update={"confidence": p}))
        scored = [s.confidence for s in spans if s.confidence is not None]
        if not scored:
            return answer
        return answer.model_copy(
            update={
                "spans": spans,
                "confidence": min(scored),
                "confidence_source": "token_probability",
                "verbalised_confidence": answer.confidence,
            }
        )

    def _sample(
        self, record: Record, demonstrations: list[Demonstration], kind: str, contrastive: bool
    ) -> Attempt:
        """No log-probabilities: the share of `samples` sampled answers that agree."""
        attempts = [
            self._ask_json(record, demonstrations, kind, contrastive, seed=i)
            for i in range(self.samples)
        ]
        said = [a.answer.label if a.answer else None for a in attempts]
        distribution = from_samples(said, self.task.label_names)
        usage = sum((a.usage for a in attempts), Usage())
        base = attempts[0]
        if distribution is None:
            return base.model_copy(update={"usage": usage})
        stated = [a.answer.confidence for a in attempts if a.answer is not None]
        reading = LabelReading(
            probabilities=distribution,
            source="sample_agreement",
            verbalised=sum(stated) / len(stated),
        )
        rationale = next((a.answer.rationale for a in attempts if a.answer), "")
        answer = answer_from_reading(reading).model_copy(update={"rationale": rationale})
        return Attempt(
            kind=kind,
            messages=base.messages,
            raw="\n".join(a.raw for a in attempts),
            answer=answer,
            usage=usage,
            seconds=sum(a.seconds for a in attempts),
            cached=all(a.cached for a in attempts),
        )

    def explain(self, record: Record, label: str) -> tuple[str, Usage]:
        """The teacher's own reason for its label, written only when something needs it."""
        messages = self.prompts.rationale_messages(
            self.task, record.text, label=label, source="teacher"
        )
        try:
            reply = self.backend.complete(messages, RATIONALE_SCHEMA)
        except BackendError:
            return "", Usage()
        return parse_rationale(reply.text, limit=RATIONALE_CHARS), reply.usage


def backend_scores_labels(backend: ChatBackend) -> bool:
    """The embedded model scores whole label continuations: no codes needed."""
    return bool(getattr(backend.model, "scores_labels", False))


def answer_from_reading(reading: LabelReading) -> TeacherAnswer:
    """A teacher answer whose label is the most likely one and whose confidence is its probability."""
    label = reading.label
    return TeacherAnswer(
        label=label,
        confidence=reading.probabilities[label],
        confidence_source=reading.source,
        probabilities=reading.probabilities,
        raw_probabilities=reading.probabilities,
        verbalised_confidence=reading.verbalised,
    )
