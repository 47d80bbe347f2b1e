"""LocalLlamaChatModel without a real model: a fake ``Llama`` records each call."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Literal

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, Field

from dualchecker.agents import local_llm
from dualchecker.agents.cores import CoreWatch, CpuSample
from dualchecker.agents.local_llm import (
    LlamaCppNotInstalledError,
    LocalLlamaChatModel,
    to_llama_messages,
)


class FakeLlama:
    """Answers every chat completion with ``content`` and records the arguments."""

    def __init__(self, content: str = '{"label": "yes", "confidence": 90}', delay: float = 0.0):
        self.content = content
        self.delay = delay
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.max_active = 0

    def create_chat_completion(self, messages, **params):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay)
        self.active -= 1
        self.calls.append({"messages": messages, **params})
        return {
            "id": "chatcmpl-1",
            "choices": [
                {"message": {"role": "assistant", "content": self.content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42},
        }


class Verdict(BaseModel):
    label: Literal["yes", "no"]
    confidence: int = Field(ge=0, le=100)


def _model(fake: FakeLlama, **kwargs) -> LocalLlamaChatModel:
    model = LocalLlamaChatModel(model_path="/models/tiny-model.gguf", **kwargs)
    model._llama = fake
    return model


def test_messages_map_to_openai_roles():
    messages = [
        SystemMessage("be brief"),
        HumanMessage("hi"),
        AIMessage("hello"),
        ToolMessage("42", tool_call_id="t1"),
        ChatMessage(role="developer", content="note"),
    ]
    assert to_llama_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "tool", "content": "42"},
        {"role": "developer", "content": "note"},
    ]


def test_text_blocks_are_joined_and_images_refused():
    blocks = HumanMessage(content=[{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    assert to_llama_messages([blocks]) == [{"role": "user", "content": "ab"}]
    image = HumanMessage(content=[{"type": "image_url", "image_url": {"url": "x"}}])
    with pytest.raises(ValueError, match="text only"):
        to_llama_messages([image])


def test_defaults_reach_llama_and_usage_comes_back():
    fake = FakeLlama()
    reply = _model(fake).invoke("Is this a claim?")
    call = fake.calls[0]
    assert call["messages"] == [{"role": "user", "content": "Is this a claim?"}]
    assert (call["temperature"], call["max_tokens"], call["seed"]) == (0.0, 512, 0)
    assert call["response_format"] is None
    assert reply.content == fake.content
    assert reply.usage_metadata == {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42}
    assert reply.response_metadata["model_name"] == "tiny-model"
    assert reply.response_metadata["finish_reason"] == "stop"


def test_bound_options_override_defaults():
    fake = FakeLlama()
    schema = Verdict.model_json_schema()
    bound = _model(fake, model_name="qwen").bind(
        response_format={"type": "json_object", "schema": schema}, temperature=0.7, seed=3
    )
    reply = bound.invoke("q", stop=["\n\n"])
    call = fake.calls[0]
    assert call["response_format"] == {"type": "json_object", "schema": schema}
    assert (call["temperature"], call["seed"], call["stop"]) == (0.7, 3, ["\n\n"])
    assert reply.response_metadata["model_name"] == "qwen"


def test_openai_style_token_options_are_understood():
    fake = FakeLlama()
    _model(fake).bind(extra_body={"max_tokens": 7}).invoke("q")
    _model(fake).invoke("q", max_completion_tokens=9)
    assert [c["max_tokens"] for c in fake.calls] == [7, 9]
    assert "extra_body" not in fake.calls[0]


def test_openai_json_schema_format_becomes_llama_format():
    fake = FakeLlama()
    schema = Verdict.model_json_schema()
    openai_format = {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}}
    _model(fake).invoke("q", response_format=openai_format)
    assert fake.calls[0]["response_format"] == {"type": "json_object", "schema": schema}


def test_constructor_response_format_is_the_default():
    fake = FakeLlama()
    fmt = {"type": "json_object"}
    _model(fake, response_format=fmt).invoke("q")
    assert fake.calls[0]["response_format"] == fmt


def test_structured_output_parses_into_the_schema():
    fake = FakeLlama()
    verdict = _model(fake).with_structured_output(Verdict).invoke("q")
    assert verdict == Verdict(label="yes", confidence=90)
    assert fake.calls[0]["response_format"]["schema"] == Verdict.model_json_schema()
    assert "ls_structured_output_format" not in fake.calls[0]


def test_structured_output_with_raw_reports_parse_errors():
    out = (
        _model(FakeLlama(content="not json"))
        .with_structured_output(Verdict, include_raw=True)
        .invoke("q")
    )
    assert out["parsed"] is None and out["parsing_error"] is not None
    assert out["raw"].content == "not json"


def test_structured_output_from_a_json_schema_dict():
    schema = {"type": "object", "properties": {"label": {"enum": ["yes", "no"]}}}
    fake = FakeLlama(content=json.dumps({"label": "no"}))
    assert _model(fake).with_structured_output(schema).invoke("q") == {"label": "no"}
    assert fake.calls[0]["response_format"]["schema"] == schema


def test_calls_are_serialised():
    fake = FakeLlama(delay=0.02)
    _model(fake).batch(["a", "b", "c", "d"], config={"max_concurrency": 4})
    assert len(fake.calls) == 4 and fake.max_active == 1


def test_identifying_params_are_portable():
    params = _model(FakeLlama())._identifying_params
    assert params["model_file"] == "tiny-model.gguf"
    assert "/models" not in json.dumps(params)


def test_missing_runtime_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes the import fail
    model = LocalLlamaChatModel(model_path="/models/tiny-model.gguf")
    with pytest.raises(LlamaCppNotInstalledError, match=r"dualchecker\[local\]"):
        model.invoke("q")
    monkeypatch.setattr(local_llm.importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(LlamaCppNotInstalledError, match=r"dualchecker\[local\]"):
        LocalLlamaChatModel.from_spec("qwen2.5-coder-0.5b")


def test_model_loads_once(monkeypatch):
    created = []

    class CountingLlama(FakeLlama):
        def __init__(self, **kwargs):
            super().__init__()
            created.append(kwargs)

    fake_module = type(sys)("llama_cpp")
    fake_module.Llama = CountingLlama
    monkeypatch.setitem(sys.modules, "llama_cpp", fake_module)
    model = LocalLlamaChatModel(model_path="/m.gguf", n_threads=3)
    model.invoke("a")
    model.invoke("b")
    assert len(created) == 1
    assert created[0]["n_threads"] == 3 and created[0]["n_ctx"] == 4096
    assert created[0]["verbose"] is False


def test_core_watch_measures_the_time_since_its_last_look():
    # (total, idle, own) ticks of a 2-core machine, read at 0 s, 30 s and 60 s
    samples = iter([CpuSample(0, 0, 0), CpuSample(6000, 3000, 0), CpuSample(12000, 8400, 600)])
    now = [0.0]
    watch = CoreWatch(30.0, sample=lambda: next(samples), clock=lambda: now[0], cores=2)
    now[0] = 10.0
    assert watch.free() is None  # too soon: nothing read
    now[0] = 30.0
    assert watch.free() == 1  # another process kept one core busy
    now[0] = 60.0
    assert watch.free() == 2  # only this process worked (own ticks), the rest was idle


class ThreadedLlama(FakeLlama):
    """A fake `Llama` whose context takes a new thread count, as llama.cpp's does."""

    def __init__(self, **kwargs):
        super().__init__()
        self.n_threads = self.n_threads_batch = kwargs["n_threads"]
        self.context_params = type("Params", (), {})()
        self.set_to: list[tuple[int, int]] = []
        self._ctx = type("Ctx", (), {"set_n_threads": lambda _, *n: self.set_to.append(n)})()


def test_threads_follow_the_free_cores_between_calls_unless_pinned(monkeypatch):
    fake_module = type(sys)("llama_cpp")
    fake_module.Llama = ThreadedLlama
    monkeypatch.setitem(sys.modules, "llama_cpp", fake_module)
    monkeypatch.setattr(local_llm, "free_cores", lambda: 1)  # busy when the model loads
    looks = iter([None, 2, None])

    class Watch:
        def __init__(self, every_s):
            assert every_s == 30.0

        def free(self):
            return next(looks)

    monkeypatch.setattr(local_llm, "CoreWatch", Watch)
    model = LocalLlamaChatModel(model_path="/m.gguf")
    for text in "abcd":
        model.invoke(text)
    llama = model._llama
    assert llama.set_to == [(2, 2)] and llama.n_threads == llama.n_threads_batch == 2
    assert llama.context_params.n_threads == 2

    pinned = LocalLlamaChatModel(model_path="/m.gguf", n_threads=1)
    for text in "ab":
        pinned.invoke(text)
    assert pinned._llama.set_to == [] and pinned._llama.n_threads == 1
    assert pinned._watch is None
