"""The real 0.5B teacher, in process and behind llama.cpp's OpenAI-style server.

These need ``pip install 'dualchecker[local]'``; without it they fail with that
command in the message rather than skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from dualchecker.agents.local_llm import LocalLlamaChatModel

try:
    from tests.integration.llama_server import llama_server_fixture
except ModuleNotFoundError:  # tests/ is not a package: pytest put this folder on sys.path
    from llama_server import llama_server_fixture

pytestmark = pytest.mark.slow

MODEL = "qwen2.5-coder-0.5b"
# One thread: on a CPU shared with other tests, all-core llama.cpp slows down ~10x.
THREADS = 1


class Verdict(BaseModel):
    label: Literal["yes", "no"]
    confidence: int = Field(ge=0, le=100)


JSON_SCHEMA_FORMAT = {"type": "json_object", "schema": Verdict.model_json_schema()}
QUESTION = [
    SystemMessage("You label sentences. Answer in JSON with a label and a confidence 0-100."),
    HumanMessage(
        'Sentence: "Our factory now runs entirely on solar power."\n'
        "Question: does the sentence talk about energy? Answer yes or no."
    ),
]

llama_server = llama_server_fixture(MODEL, scope="module", n_threads=THREADS)


@pytest.fixture(scope="module")
def local_model() -> Iterator[LocalLlamaChatModel]:
    model = LocalLlamaChatModel.from_spec(MODEL, n_threads=THREADS)
    yield model
    model.close()


def _check_reply(reply) -> None:
    verdict = Verdict.model_validate_json(reply.content)
    assert verdict.label == "yes", reply.content
    usage = reply.usage_metadata
    assert usage["input_tokens"] > 20 and 0 < usage["output_tokens"] <= 64
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_in_process_answer_follows_the_schema(local_model):
    reply = local_model.bind(response_format=JSON_SCHEMA_FORMAT, max_tokens=64).invoke(QUESTION)
    _check_reply(reply)
    assert reply.response_metadata["model_name"] == MODEL
    assert reply.response_metadata["finish_reason"] == "stop"


def test_in_process_structured_output(local_model):
    verdict = local_model.with_structured_output(Verdict).invoke(QUESTION)
    assert isinstance(verdict, Verdict) and verdict.label == "yes"


def test_server_answer_through_chat_openai(llama_server):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(
        base_url=llama_server.base_url, api_key="sk-local", model=llama_server.alias,
        temperature=0, max_retries=0, timeout=120,
    )
    # max_tokens must travel in extra_body: ChatOpenAI sends max_completion_tokens,
    # which the llama.cpp server ignores.
    bound = chat.bind(response_format=JSON_SCHEMA_FORMAT, extra_body={"max_tokens": 64})
    reply = bound.invoke(QUESTION)
    _check_reply(reply)
    assert reply.response_metadata["finish_reason"] == "stop"
