"""A chat model that replays a script: deterministic teachers for tests, demos and benchmarks.

LangChain's fake chat models cannot do tool calls; this one can, so every structured-output
method of ChatBackend is testable without a network.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class ScriptRule(BaseModel):
    """Replies (cycled) for prompts whose last user message contains `when` (None = any)."""

    model_config = ConfigDict(extra="forbid")
    when: str | None = None
    replies: list[str] = Field(min_length=1)


class ScriptedChatModel(BaseChatModel):
    """Answers from `rules` (first match wins) or from `responder(messages) -> str`."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    rules: list[ScriptRule] = Field(default_factory=list)
    responder: Callable[[list[BaseMessage]], str] | None = None
    logprobs: Callable[[list[BaseMessage]], dict[str, float]] | None = None
    """First-token log-probabilities to return, OpenAI-style, when a call asks for `logprobs` (None:
    this model has none, like many backends)."""
    delay_s: float = 0.0
    tokens_per_word: float = 1.3
    _cycles: dict[int, Any] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _prompts: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        """Part of LLM-cache keys: two different scripts must never share cached replies."""
        return {
            "rules": [r.model_dump() for r in self.rules],
            "responder": _callable_key(self.responder) if self.responder else None,
            "logprobs": _callable_key(self.logprobs) if self.logprobs else None,
        }

    @property
    def prompts(self) -> list[list[BaseMessage]]:
        """Every prompt received, in order (for assertions)."""
        return list(self._prompts)

    def _next_reply(self, messages: list[BaseMessage]) -> str:
        if self.responder is not None:
            return self.responder(messages)
        last_user = next((m.content for m in reversed(messages) if m.type == "human"), "")
        for i, rule in enumerate(self.rules):
            if rule.when is None or rule.when in str(last_user):
                with self._lock:
                    cycle = self._cycles.setdefault(i, itertools.cycle(rule.replies))
                    return next(cycle)
        raise ValueError(f"no script rule matches the prompt: {str(last_user)[:200]!r}")

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            self._prompts.append(list(messages))
        if self.delay_s:
            time.sleep(self.delay_s)
        if kwargs.get("logprobs") and self.logprobs is not None:
            return _logprob_result(self.logprobs(messages))
        text = self._next_reply(messages)
        prompt_words = sum(len(str(m.content).split()) for m in messages)
        usage = {
            "input_tokens": int(prompt_words * self.tokens_per_word),
            "output_tokens": int(len(text.split()) * self.tokens_per_word),
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        if kwargs.get("tools"):
            message = AIMessage(
                content="",
                usage_metadata=usage,
                tool_calls=[
                    {"name": "answer", "args": _as_args(text), "id": f"call_{len(self._prompts)}"}
                ],
            )
        else:
            message = AIMessage(content=text, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def bind_tools(self, tools: list[Any], *, tool_choice: Any = None, **kwargs: Any):
        """Bind the tools so that replies come back as a call of the ``answer`` tool."""
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)


def _logprob_result(top: dict[str, float]) -> ChatResult:
    """A one-token reply carrying OpenAI-style ``logprobs`` for that token."""
    best = max(top, key=top.__getitem__)
    entries = [{"token": token, "logprob": lp, "bytes": None} for token, lp in top.items()]
    message = AIMessage(
        content=best,
        usage_metadata={"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
        response_metadata={
            "logprobs": {
                "content": [
                    {"token": best, "logprob": top[best], "bytes": None, "top_logprobs": entries}
                ]
            }
        },
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


def _callable_key(fn: Callable) -> str:
    """A stable name for a responder: its own qualified name and those of the callables it closes
    over (so `scripted_teacher(a)` and `scripted_teacher(b)` differ, two calls with `a` agree)."""
    names = [fn] + [
        c.cell_contents for c in getattr(fn, "__closure__", None) or () if callable(c.cell_contents)
    ]
    return "|".join(
        f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', type(f).__name__)}"
        for f in names
    )


def _as_args(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
