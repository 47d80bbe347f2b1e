"""One narrow interface to any LangChain chat model: send messages, get JSON text and token usage.

Backend quirks stay here. Each structured-output method is a way of asking a server for JSON:
- ``json_schema``: OpenAI-style strict schema (OpenAI, vLLM, recent Ollama).
- ``response_format``: ``{"type": "json_object", "schema": ...}``, what llama.cpp's server and the
  in-process llama.cpp model accept (llama.cpp answers HTTP 500 to ``json_schema``).
- ``json_mode``: plain JSON mode, no schema.
- ``tools``: a forced function call whose arguments are the answer.
- ``prompt``: nothing but the prompt's own instructions (works with any chat model).
Whatever comes back is validated by the caller with pydantic; this module never trusts it.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.caches import BaseCache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, convert_to_messages
from langchain_core.rate_limiters import InMemoryRateLimiter
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dualchecker.agents.faults import BackendUnavailable, is_transient
from dualchecker.agents.label_probs import (
    LabelReading,
    first_token_top_logprobs,
    from_label_logprobs,
    from_top_logprobs,
    parse_stated_number,
)
from dualchecker.agents.llm_cache import CallLedger
from dualchecker.agents.types import Usage
from dualchecker.errors import BackendError, ConfigError

log = logging.getLogger(__name__)

StructuredMethod = Literal["json_schema", "response_format", "json_mode", "tools", "prompt"]
Messages = list[dict[str, str]]


class Completion(BaseModel):
    """What one call returned: the text to parse, tokens used, and how long it took."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    text: str
    usage: Usage = Field(default_factory=Usage)
    seconds: float = 0.0
    cached: bool = False
    """Answered by the LLM cache, not by the model."""


class ChatBackend:
    """Wraps a LangChain chat model; agents receive this object, never a provider name.

    `for_agent(name)` gives a view on the same model whose calls the shared `ledger` books under
    that agent; `calls` and `usage` are the real (uncached) calls of all views together.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        structured: StructuredMethod = "prompt",
        name: str | None = None,
        agent: str = "teacher",
    ):
        self.model = model
        self.structured = structured
        self.name = name or getattr(model, "model_name", None) or type(model).__name__
        self.agent = agent
        self.ledger = CallLedger()
        self.logprobs: bool | None = None  # None until a reply shows whether it has log-probs

    def for_agent(self, agent: str) -> ChatBackend:
        """The same model and ledger, booking calls under `agent`."""
        view = copy.copy(self)
        view.agent = agent
        return view

    def sampling(self, seed: int, temperature: float = 0.7) -> ChatBackend:
        """A view that samples (seeded, so the LLM cache keeps the k samples apart)."""
        view = copy.copy(self)
        view.model = self.model.bind(temperature=temperature, seed=seed)
        return view

    def fresh(self) -> ChatBackend:
        """The same model and structured method with an empty ledger (one per run of a grid)."""
        return ChatBackend(self.model, structured=self.structured, name=self.name, agent=self.agent)

    def use_cache(self, cache: BaseCache | None) -> None:
        """Look every call up in `cache` first (LangChain's own ``model.cache``)."""
        self.model.cache = cache

    @property
    def calls(self) -> int:
        """Real (uncached) calls made so far, by every agent sharing the ledger."""
        return self.ledger.total().calls

    @property
    def cache_hits(self) -> int:
        """Calls the LLM cache answered, by every agent sharing the ledger."""
        return self.ledger.total().cache_hits

    @property
    def usage(self) -> Usage:
        """Tokens spent on real calls, by every agent sharing the ledger."""
        return self.ledger.total().usage

    def complete(
        self,
        messages: Messages,
        schema: dict[str, Any] | None = None,
        *,
        grammar: str | None = None,
    ) -> Completion:
        """Send `messages`; with a schema, ask for JSON by this backend's structured method.

        A GBNF `grammar` (e.g. quotes that must come from the text) replaces the schema on
        backends that take one (the embedded llama.cpp model); others ignore it.

        Raises:
            BackendUnavailable: timeouts, 429 and 5xx after the client's own retries.
            BackendError: any other provider error (retrying would not help).
        """
        runnable = self._bind(schema) if schema is not None else self.model
        if grammar is not None and getattr(self.model, "accepts_grammar", False):
            runnable = self.model.bind(grammar=grammar)
        started = time.perf_counter()
        try:
            reply = runnable.invoke(convert_to_messages(messages))
        except Exception as exc:  # any provider error becomes one typed error, with its cause
            error = BackendUnavailable if is_transient(exc) else BackendError
            raise error(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        cached = bool((getattr(reply, "response_metadata", None) or {}).get("cache_hit"))
        completion = Completion(
            text=_reply_text(reply),
            usage=_usage(reply),
            cached=cached,
            seconds=time.perf_counter() - started,
        )
        self.ledger.record(
            self.agent, completion.usage, cached=cached, saved_seconds=_saved_seconds(reply)
        )
        return completion

    def read_labels(
        self,
        messages: Messages,
        labels: list[str],
        *,
        prefix: str = "Answer:",
        codes: dict[str, str] | None = None,
        verbalise: bool = False,
    ) -> tuple[LabelReading | None, Completion]:
        """The model's probability for every label, or None when this backend has none.

        The embedded model scores each label after ``prefix`` itself; other models are asked for
        the label with ``logprobs``/``top_logprobs`` and their first answer token is read (the
        prompt then asks for the label, or its code, alone). A reply without log-probabilities
        marks the backend so callers fall back to sampling from then on.
        """
        if getattr(self.model, "scores_labels", False):
            options: dict[str, Any] = {
                "label_scoring": {
                    "prefix": prefix,
                    "labels": labels,
                    "verbalise": "\nConfidence (0-100):" if verbalise else None,
                }
            }
        else:
            options = (
                {
                    "logprobs": True,
                    "top_logprobs": 20,
                    "max_tokens": 4,
                    "extra_body": {"max_tokens": 4},
                }
                if self._speaks_openai()
                else {"logprobs": True, "top_logprobs": 20}
            )
        started = time.perf_counter()
        try:
            reply = self.model.bind(**options).invoke(convert_to_messages(messages))
        except Exception as exc:  # same typing of provider errors as `complete`
            error = BackendUnavailable if is_transient(exc) else BackendError
            raise error(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        meta = getattr(reply, "response_metadata", None) or {}
        completion = Completion(
            text=_reply_text(reply),
            usage=_usage(reply),
            cached=bool(meta.get("cache_hit")),
            seconds=time.perf_counter() - started,
        )
        self.ledger.record(
            self.agent,
            completion.usage,
            cached=completion.cached,
            saved_seconds=_saved_seconds(reply),
        )
        probabilities = None
        if meta.get("label_logprobs"):
            probabilities = from_label_logprobs(meta["label_logprobs"], labels)
        elif (top := first_token_top_logprobs(meta)) is not None:
            probabilities = from_top_logprobs(top, labels, codes)
        if probabilities is None:
            if self.logprobs is None:
                log.warning(
                    "%s returned no log-probabilities; confidence falls back to "
                    "agreement over samples",
                    self.name,
                )
            self.logprobs = False
            return None, completion
        self.logprobs = True
        return LabelReading(
            probabilities=probabilities,
            source="token_probability",
            verbalised=parse_stated_number(meta.get("verbalised")),
        ), completion

    def continuation_confidence(
        self,
        messages: Messages,
        prefix: str,
        continuation: str,
    ) -> float | None:
        """The model's per-token (geometric mean) probability of `continuation` after the reply
        `prefix`, or None on backends that cannot score text (only the embedded model can)."""
        if not getattr(self.model, "scores_labels", False):
            return None
        reply = self.model.invoke(
            convert_to_messages(messages),
            label_scoring={"prefix": prefix, "labels": [continuation], "separator": ""},
        )
        meta = reply.response_metadata
        self.ledger.record(
            self.agent,
            _usage(reply),
            cached=bool(meta.get("cache_hit")),
            saved_seconds=_saved_seconds(reply),
        )
        logprob, tokens = meta["label_logprobs"][continuation], meta["label_tokens"][continuation]
        return math.exp(logprob / max(tokens, 1))

    def _speaks_openai(self) -> bool:
        return type(self.model).__name__ in ("ChatOpenAI", "AzureChatOpenAI")

    def _bind(self, schema: dict[str, Any]):
        if self.structured == "json_schema":
            return self.model.bind(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": schema, "strict": False},
                }
            )
        if self.structured == "response_format":
            return self.model.bind(response_format={"type": "json_object", "schema": schema})
        if self.structured == "json_mode":
            return self.model.bind(response_format={"type": "json_object"})
        if self.structured == "tools":
            tool = {
                "type": "function",
                "function": {
                    "name": "answer",
                    "parameters": schema,
                    "description": "Give the answer.",
                },
            }
            return self.model.bind_tools([tool], tool_choice="answer")
        return self.model


def _reply_text(reply: Any) -> str:
    if isinstance(reply, AIMessage) and reply.tool_calls:
        return json.dumps(reply.tool_calls[0]["args"])
    content = getattr(reply, "content", reply)
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def _saved_seconds(reply: Any) -> float | None:
    """A cache hit's: the seconds the call took when it was first made (None if unknown)."""
    return (getattr(reply, "response_metadata", None) or {}).get("cached_seconds")


def _usage(reply: Any) -> Usage:
    meta = getattr(reply, "usage_metadata", None) or {}
    return Usage(
        input_tokens=meta.get("input_tokens", 0) or 0,
        output_tokens=meta.get("output_tokens", 0) or 0,
    )


class BackendConfig(BaseModel):
    """Which LLM teaches. ``kind`` picks a factory from BACKENDS; unknown kinds list the known ones."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)
    kind: str = "local"
    """local | openai | scripted | import"""
    model: str | None = None
    """Model name, GGUF path or known local model name."""
    base_url: str | None = None
    """OpenAI-compatible server, e.g. http://127.0.0.1:8011/v1"""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key."""
    api_key: SecretStr | None = None
    """Prefer api_key_env; never written to traces."""
    structured: StructuredMethod | None = None
    """Override the backend's JSON method."""
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(256, gt=0)
    """Upper bound on each reply's tokens."""
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    """Client retries with backoff on 429/5xx/timeouts."""
    requests_per_second: float | None = Field(None, gt=0)
    """Rate limit for this backend (LangChain's InMemoryRateLimiter); cache hits are free."""
    target: str | None = None
    """kind=import: 'package.module:ChatClass'."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Extra constructor arguments."""


def _openai(cfg: BackendConfig) -> ChatBackend:
    from langchain_openai import ChatOpenAI

    key = cfg.api_key.get_secret_value() if cfg.api_key else os.environ.get(cfg.api_key_env)
    if not key and cfg.base_url is None:
        raise BackendError(f"no API key: set ${cfg.api_key_env} or use base_url for a local server")
    extra: dict[str, Any] = {}
    if cfg.base_url:  # local servers read max_tokens, not max_completion_tokens
        extra["extra_body"] = {"max_tokens": cfg.max_tokens}
    model = ChatOpenAI(
        model=cfg.model or "gpt-4o-mini",
        base_url=cfg.base_url,
        api_key=key or "sk-local",
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        timeout=cfg.timeout_s,
        max_retries=cfg.max_retries,
        **extra,
        **cfg.params,
    )
    default = "response_format" if cfg.base_url else "json_schema"
    return ChatBackend(model, structured=cfg.structured or default, name=cfg.model or "openai")


def _local(cfg: BackendConfig) -> ChatBackend:
    from dualchecker.agents.local_llm import LocalLlamaChatModel

    model = LocalLlamaChatModel.from_spec(
        cfg.model or "qwen2.5-coder-0.5b",
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        **cfg.params,
    )
    return ChatBackend(
        model,
        structured=cfg.structured or "response_format",
        name=cfg.model or "qwen2.5-coder-0.5b",
    )


def _scripted(cfg: BackendConfig) -> ChatBackend:
    from dualchecker.agents.scripted import ScriptedChatModel

    return ChatBackend(
        ScriptedChatModel(**cfg.params), structured=cfg.structured or "prompt", name="scripted"
    )


def _imported(cfg: BackendConfig) -> ChatBackend:
    if not cfg.target or ":" not in cfg.target:
        raise ConfigError("backend kind 'import' needs target: 'package.module:ChatClass'")
    module_name, _, attr = cfg.target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BackendError(f"cannot import chat model {cfg.target}: {exc}") from exc
    kwargs = dict(cfg.params)
    if cfg.model:
        kwargs.setdefault("model", cfg.model)
    return ChatBackend(cls(**kwargs), structured=cfg.structured or "prompt", name=cfg.target)


BACKENDS: dict[str, Callable[[BackendConfig], ChatBackend]] = {
    "openai": _openai,
    "local": _local,
    "scripted": _scripted,
    "import": _imported,
}


def default_structured(model: BaseChatModel) -> StructuredMethod:
    """How to ask a chat model passed in by the user for JSON, by what it is.

    The embedded llama.cpp model and OpenAI-compatible local servers take a JSON schema as
    ``response_format`` (a sampling grammar); OpenAI itself takes ``json_schema``; any other
    model gets the prompt's own instructions (every reply is validated either way).
    """
    if getattr(model, "accepts_grammar", False):
        return "response_format"
    if type(model).__name__ in ("ChatOpenAI", "AzureChatOpenAI"):
        base = str(getattr(model, "openai_api_base", None) or "")
        return "response_format" if base and "api.openai.com" not in base else "json_schema"
    return "prompt"


def make_backend(llm: BackendConfig | BaseChatModel | ChatBackend | None) -> ChatBackend:
    """Resolve what the user gave (a config, any LangChain chat model, a backend) to a backend."""
    if isinstance(llm, ChatBackend):
        return llm
    if isinstance(llm, BaseChatModel):
        return ChatBackend(llm, structured=default_structured(llm))
    cfg = llm or BackendConfig()
    try:
        factory = BACKENDS[cfg.kind]
    except KeyError:
        raise ConfigError(f"unknown backend kind {cfg.kind!r}; known: {sorted(BACKENDS)}") from None
    backend = factory(cfg)
    if cfg.requests_per_second:
        backend.model.rate_limiter = InMemoryRateLimiter(
            requests_per_second=cfg.requests_per_second,
            check_every_n_seconds=min(0.05, 0.5 / cfg.requests_per_second),
            max_bucket_size=1,
        )
    return backend
