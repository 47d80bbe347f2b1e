"""Turn a teacher's raw reply into a validated answer, or say exactly why it cannot be.

Small models write "90", "90%", 0.9 or "high" for the same confidence, wrap JSON in prose, and
quote spans that are not in the text. Everything here is a pure function so the parser can be
fuzzed and tested from tables of cases.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

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
    repaired = close_truncated_json(text)
    if repaired is not None:
        return repaired
    raise AnswerParseError("no JSON object in the reply")


def close_truncated_json(text: str) -> dict[str, Any] | None:
    """A reply cut off mid-object (a token limit, a stop): close its open string and braces.

    Labels and confidences come before the rationale in the answer format, so a cut usually
    loses only the end of the rationale. Anything still unparseable after closing is rejected.
    """
    start = text.find("{")
    if start < 0:
        return None
    closers, in_string, escaped = [], False, False
    for ch in text[start:]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers:
            closers.pop()
    if not closers:
        return None
    tail = text[start:].rstrip()
    if in_string:
        tail += '"'
    tail = tail.rstrip(",: ")
    try:
        value = json.loads(tail + "".join(reversed(closers)), strict=False)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


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


def parse_spans(data: dict[str, Any], task: Task, text: str) -> tuple[list[Span], int]:
    """Read the quotes (one or a list) of every span type; returns the spans and how many quotes
    were dropped because they are not in the text (a hallucinated quote costs itself only)."""
    spans: list[Span] = []
    dropped = 0
    keys = {k.lower(): k for k in data}
    for span_type in task.span_type_names:
        if span_type.lower() not in keys:
            raise AnswerParseError(f"the answer has no '{span_type}' field")
        value = data[keys[span_type.lower()]]
        quotes = value if isinstance(value, list) else [value]
        for quote in quotes:
            if quote is None or (isinstance(quote, str) and not quote.strip()):
                continue
            if not isinstance(quote, str):
                raise AnswerParseError(
                    f"'{span_type}' must be a quote from the text, got {quote!r}"
                )
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
    """Validate a raw reply against the task; raises AnswerParseError with the reason."""
    data = extract_json_object(raw)
    fields = {k.lower(): v for k, v in data.items()}
    if "confidence" not in fields:
        raise AnswerParseError("the answer has no 'confidence' field")
    confidence = normalise_confidence(fields["confidence"])
    rationale = fields.get("rationale", fields.get("reason", ""))
    rationale = rationale if isinstance(rationale, str) else json.dumps(rationale)
    rationale = trim_at_cap(rationale, ANSWER_RATIONALE_CHARS)
    if task.is_spans:
        spans, dropped = parse_spans(data, task, text)
        if dropped and not spans:
            raise AnswerParseError(
                f"hallucinated span: none of the {dropped} quotes is in the text"
            )
        # Part of the answer was invented: trust the rest less, in proportion.
        confidence *= len(spans) / (len(spans) + dropped) if spans else 1.0
        return TeacherAnswer(
            spans=spans, confidence=confidence, rationale=rationale, dropped_spans=dropped
        )
    if "label" not in fields:
        raise AnswerParseError("the answer has no 'label' field")
    return TeacherAnswer(
        label=match_label(fields["label"], task.label_names),
        confidence=confidence,
        rationale=rationale,
    )


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


def answer_schema(task: Task, *, reasoning_first: bool = False) -> dict[str, Any]:
    """The JSON schema a backend can use to constrain the teacher's reply.

    With `reasoning_first` (chain-of-thought) the rationale is the first field, so a grammar-
    constrained model writes its reasoning before it commits to an answer.
    """
    props: dict[str, Any] = {}
    if reasoning_first:
        props["rationale"] = {"type": "string", "maxLength": RATIONALE_CHARS}
    if task.is_spans:
        for span_type in task.span_types:  # a list: a text may hold two causes
            props[span_type.name] = {
                "type": "array",
                "items": {"type": "string"},
                "description": span_type.description,
            }
    else:
        props["label"] = {"type": "string", "enum": task.label_names}
    props["confidence"] = {"type": "integer", "minimum": 0, "maximum": 100}
    if not reasoning_first:
        props["rationale"] = {"type": "string", "maxLength": ANSWER_RATIONALE_CHARS}
    return {"type": "object", "properties": props, "required": list(props)}


# Small models ramble; a grammar-constrained length keeps replies short and the JSON whole
# (a reply cut at max_tokens is unparseable). Output tokens dominate a local model's latency.
RATIONALE_CHARS = 240
ANSWER_RATIONALE_CHARS = 160
RATIONALE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"rationale": {"type": "string", "maxLength": RATIONALE_CHARS}},
    "required": ["rationale"],
}
