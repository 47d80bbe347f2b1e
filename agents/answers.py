"""Turn a teacher's raw reply into a validated answer, or say exactly why it cannot be.

Small models write "90", "90%", 0.9 or "high" for the same confidence, wrap JSON in prose, and
quote spans that are not in the text. Everything here is a pure function so the parser can be
fuzzed and tested from tables of cases.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Annotated, Any, Literal

from langchain_core.utils.json import parse_partial_json
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
)

from dualchecker.agents.types import Span, Task, TeacherAnswer
from dualchecker.errors import AnswerParseError

CONFIDENCE_WORDS = {
    "certain": 1.0,
    "very high": 0.95,
    "high": 0.85,
    "confident": 0.85,
    "fairly high": 0.75,
    "medium": 0.5,
    "moderate": 0.5,
    "neutral": 0.5,
    "fair": 0.5,
    "unsure": 0.3,
    "low": 0.25,
    "very low": 0.1,
    "none": 0.0,
}


def extract_json_object(raw: str) -> dict[str, Any]:
    """Return the first JSON object in `raw` (the whole reply, or one embedded in prose)."""
    text = raw.strip()
    if text.startswith("```"):
        text = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", text)
    # strict=False: grammar-constrained replies may hold raw newlines inside a string
    decoder = json.JSONDecoder(strict=False)
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        except RecursionError:  # a hostile reply nested thousands deep
            raise AnswerParseError("JSON nested too deeply") from None
        if isinstance(value, dict):
            return value
    # A reply cut off mid-object (a token limit, a stop): langchain-core closes its open string
    # and brackets and drops an unfinished key. Labels and confidences come before the rationale
    # in the answer format, so a cut usually loses only the end of the rationale.
    start = text.find("{")
    if start >= 0:
        try:
            repaired = parse_partial_json(text[start:], strict=False)
        except (json.JSONDecodeError, RecursionError):
            repaired = None
        if isinstance(repaired, dict):
            return repaired
    raise AnswerParseError("no JSON object in the reply")


def normalise_confidence(value: Any) -> float:
    """Map a verbalised confidence to 0..1.

    Numbers in [0, 1] are fractions and numbers in (1, 100] are percentages, so "0.9", 0.9, 90 and
    "90%" all give 0.9 (the reference code read "0.9" as 0.09). Anything else is rejected.
    """
    if isinstance(value, bool) or value is None:
        raise AnswerParseError(f"confidence {value!r} is not a number")
    if isinstance(value, str):
        word = value.strip().lower().rstrip(".")
        if word in CONFIDENCE_WORDS:
            return CONFIDENCE_WORDS[word]
        percent = word.endswith("%")
        try:
            number = float(word.rstrip("%").strip())
        except ValueError:
            raise AnswerParseError(
                f"confidence {value!r} is neither a number nor a known word"
            ) from None
        if percent:
            number /= 100.0
            if not 0.0 <= number <= 1.0:
                raise AnswerParseError(f"confidence {value!r} is outside 0-100%")
            return number
        value = number
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise AnswerParseError(f"confidence {value!r} is not a number")
    if 0.0 <= value <= 1.0:
        return float(value)
    if 1.0 < value <= 100.0:
        return float(value) / 100.0
    raise AnswerParseError(f"confidence {value!r} is outside 0-100")


def match_label(value: Any, labels: list[str]) -> str:
    """Return the task label the model meant, tolerating case, quotes and trailing punctuation."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise AnswerParseError(f"label {value!r} is not a string")
    wanted = str(value).strip().strip("\"'`.").strip().lower()
    for name in labels:
        if name.lower() == wanted:
            return name
    raise AnswerParseError(f"label {value!r} is not one of {labels}")


def _squeeze(text: str) -> tuple[str, list[int]]:
    """Lower-case `text` without whitespace, with each kept character's original index."""
    kept = [(i, ch.lower()) for i, ch in enumerate(text) if not ch.isspace()]
    return "".join(ch for _, ch in kept), [i for i, _ in kept]


def locate_span(text: str, quote: str) -> tuple[int, int] | None:
    """Find `quote` in `text`: exactly first, then ignoring case and whitespace. None = not there."""
    quote = quote.strip()
    if not quote:
        return None
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    squeezed_text, index = _squeeze(text)
    squeezed_quote, _ = _squeeze(quote)
    at = squeezed_text.find(squeezed_quote)
    if at < 0 or not squeezed_quote:
        return None
    return index[at], index[at + len(squeezed_quote) - 1] + 1


def ground_quotes(quotes_by_type: dict[str, list[str]], text: str) -> tuple[list[Span], int]:
    """Find every quote in the text; returns the spans and how many quotes were dropped because
    they are not in it (a hallucinated quote costs itself only, never the whole answer)."""
    spans: list[Span] = []
    dropped = 0
    for span_type, quotes in quotes_by_type.items():
        for quote in quotes:
            where = locate_span(text, quote)
            if where is None:
                dropped += 1
                continue
            span = Span(
                type=span_type, start=where[0], end=where[1], text=text[where[0] : where[1]]
            )
            if span.key() not in {s.key() for s in spans}:
                spans.append(span)
    return spans, dropped


def parse_answer(raw: str, task: Task, text: str) -> TeacherAnswer:
    """Validate a raw reply against the task's answer model; raises AnswerParseError with the
    reason (a missing field, a label not in the task, a confidence that is no number, …)."""
    model = answer_model(task)
    reply = model.model_validate(_fields_by_alias(extract_json_object(raw), model))
    confidence = reply.confidence
    rationale = trim_at_cap(reply.rationale, ANSWER_RATIONALE_CHARS)
    if task.is_spans:
        quotes = {name: getattr(reply, _field(i)) for i, name in enumerate(task.span_type_names)}
        spans, dropped = ground_quotes(quotes, text)
        if dropped and not spans:
            raise AnswerParseError(
                f"hallucinated span: none of the {dropped} quotes is in the text"
            )
        # Part of the answer was invented: trust the rest less, in proportion.
        confidence *= len(spans) / (len(spans) + dropped) if spans else 1.0
        return TeacherAnswer(
            spans=spans, confidence=confidence, rationale=rationale, dropped_spans=dropped
        )
    return TeacherAnswer(label=reply.label, confidence=confidence, rationale=rationale)


def parse_rationale(raw: str, *, limit: int | None = None) -> str:
    """A rationale reply: the 'rationale' field of a JSON object, or the plain text itself.

    With `limit` (the grammar's length cap), a rationale that reached the cap was cut off and is
    trimmed back to its last whole sentence, or its last whole word with an ellipsis.
    """
    try:
        data = extract_json_object(raw)
    except AnswerParseError:
        return trim_at_cap(raw.strip(), limit)
    value = data.get("rationale") or data.get("reason") or data.get("explanation")
    text = value.strip() if isinstance(value, str) and value.strip() else raw.strip()
    return trim_at_cap(text, limit)


def trim_at_cap(text: str, limit: int | None) -> str:
    """Undo a mid-word cut: text shorter than the cap is whole; text at the cap loses its
    unfinished tail (back to a sentence end if there is one in its second half)."""
    if limit is None or len(text) < limit - 1:
        return text
    sentence_end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    if text.endswith((".", "!", "?")):
        return text
    if sentence_end >= len(text) // 2:
        return text[: sentence_end + 1]
    space = text.rfind(" ")
    return (text[:space] if space > 0 else text).rstrip(",;:- ") + "…"


def _field(i: int) -> str:
    """The Python name of span type i's field (its JSON name, the alias, may be any string)."""
    return f"span_{i}"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_quotes(span_type: str) -> Any:
    def read(value: Any) -> list[str]:
        """One quote or a list of them; empty ones and nulls mean "none"."""
        quotes = value if isinstance(value, list) else [value]
        out = []
        for quote in quotes:
            if quote is None or (isinstance(quote, str) and not quote.strip()):
                continue
            if not isinstance(quote, str):
                raise AnswerParseError(
                    f"'{span_type}' must be a quote from the text, got {quote!r}"
                )
            out.append(quote)
        return out

    return read


class _Reply(BaseModel):
    """Base of every task's answer model: a reply whose fields are missing or malformed raises
    AnswerParseError with the reason, as the re-ask shows it to the model."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> _Reply:  # noqa: D102
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            error = exc.errors()[0]
            name = error["loc"][0] if error["loc"] else "answer"
            alias = cls.model_fields[name].alias if name in cls.model_fields else name
            if error["type"] == "missing":
                raise AnswerParseError(f"the answer has no '{alias or name}' field") from None
            raise AnswerParseError(f"'{alias or name}': {error['msg']}") from None


@functools.lru_cache(maxsize=64)
def _answer_model(task_json: str, reasoning_first: bool) -> type[_Reply]:
    task = Task.model_validate_json(task_json)
    text = Annotated[
        str,
        BeforeValidator(_as_text),
        WithJsonSchema(
            {
                "type": "string",
                "maxLength": RATIONALE_CHARS if reasoning_first else ANSWER_RATIONALE_CHARS,
            }
        ),
    ]
    fields: dict[str, Any] = {}
    if reasoning_first:
        fields["rationale"] = (
            text,
            Field("", validation_alias=AliasChoices("rationale", "reason")),
        )
    if task.is_spans:
        for i, span_type in enumerate(task.span_types):  # a list: a text may hold two causes
            quotes = Annotated[list[str], BeforeValidator(_as_quotes(span_type.name))]
            fields[_field(i)] = (
                quotes,
                Field(alias=span_type.name, description=span_type.description),
            )
    else:
        labels = tuple(task.label_names)
        label = Annotated[
            Literal[labels],  # type: ignore[valid-type]
            BeforeValidator(lambda value: match_label(value, list(labels))),
        ]
        fields["label"] = (label, ...)
    confidence = Annotated[
        float,
        BeforeValidator(normalise_confidence),
        WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 100}),
    ]
    fields["confidence"] = (confidence, ...)
    if not reasoning_first:
        fields["rationale"] = (
            text,
            Field("", validation_alias=AliasChoices("rationale", "reason")),
        )
    return create_model("TeacherReply", __base__=_Reply, **fields)


def answer_model(task: Task, *, reasoning_first: bool = False) -> type[_Reply]:
    """The teacher's reply for `task` as one pydantic model: the label a `Literal` of the task's
    labels (matched leniently: case, quotes), one list of quotes per span type, the confidence
    normalised to 0..1 from whatever the model wrote (0.9, 90, "90%", "high"). The JSON schema
    the backend constrains decoding with (`answer_schema`) and the validation of what comes
    back both come from it, so the two cannot drift apart."""
    return _answer_model(task.model_dump_json(), reasoning_first)


def answer_schema(task: Task, *, reasoning_first: bool = False) -> dict[str, Any]:
    """The JSON schema a backend can use to constrain the teacher's reply: the answer model's,
    every field required, in the model's field order.

    With `reasoning_first` (chain-of-thought) the rationale is the first field, so a grammar-
    constrained model writes its reasoning before it commits to an answer.
    """
    schema = answer_model(task, reasoning_first=reasoning_first).model_json_schema()
    props = {
        name: {k: v for k, v in prop.items() if k not in ("title", "default")}
        for name, prop in schema["properties"].items()
    }
    return {"type": "object", "properties": props, "required": list(props)}


def _fields_by_alias(data: dict[str, Any], model: type[_Reply]) -> dict[str, Any]:
    """The reply's fields under the model's names, its keys matched without regard to case."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    out = {}
    for name, field in model.model_fields.items():
        for key in (field.alias or name, *_choices(field)):
            if key.lower() in lowered:
                out[name] = lowered[key.lower()]
                break
    return out


def _choices(field: Any) -> tuple[str, ...]:
    alias = field.validation_alias
    return tuple(c for c in getattr(alias, "choices", ()) if isinstance(c, str))


# Small models ramble; a grammar-constrained length keeps replies short and the JSON whole
# (a reply cut at max_tokens is unparseable). Output tokens dominate a local model's latency.
RATIONALE_CHARS = 240
ANSWER_RATIONALE_CHARS = 160
RATIONALE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"rationale": {"type": "string", "maxLength": RATIONALE_CHARS}},
    "required": ["rationale"],
}
