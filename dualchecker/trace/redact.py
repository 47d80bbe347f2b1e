"""Defensive redaction: events never hold secrets, but a pasted key in a prompt must not leak."""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"
SECRET_PATTERNS = [
    re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{12,}"),  # OpenAI / Anthropic style keys
    re.compile(r"(?<![A-Za-z0-9])lsv2_[A-Za-z0-9_]{12,}"),  # LangSmith keys
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._\-]{12,}"),  # Authorization headers
]
SECRET_KEYS = {"api_key", "apikey", "authorization", "password", "secret", "langsmith_api_key"}


def redact_text(text: str) -> str:
    """`text` with anything that looks like an API key replaced by a mask."""
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def redact(value: Any) -> Any:
    """Redact every string inside nested dicts and lists; values of secret-named keys go entirely."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: MASK if str(k).lower() in SECRET_KEYS and v else redact(v) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
