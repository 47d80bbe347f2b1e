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


@pytest.fixture(scope="module")
def served_chat(llama_server):
    """ChatOpenAI pointed at the module's llama.cpp server, greedy and without retries."""
    return llama_server.chat()


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


def test_server_answer_through_chat_openai(served_chat):
    # max_tokens must travel in extra_body: ChatOpenAI sends max_completion_tokens,
    # which the llama.cpp server ignores.
    bound = served_chat.bind(response_format=JSON_SCHEMA_FORMAT, extra_body={"max_tokens": 64})
    reply = bound.invoke(QUESTION)
    _check_reply(reply)
    assert reply.response_metadata["finish_reason"] == "stop"


def test_label_probabilities_in_process_and_through_the_server_agree(local_model, served_chat):
    """One prompt pass in process; top_logprobs of the first token through ChatOpenAI."""
    from dualchecker.agents.backends import ChatBackend

    messages = [
        {
            "role": "system",
            "content": "Does the sentence talk about energy? Answer with "
            'the label only, one of ["no", "yes"].',
        },
        {"role": "user", "content": "Our factory now runs entirely on solar power."},
    ]
    local, _ = ChatBackend(local_model).read_labels(messages, ["no", "yes"])
    served, _ = ChatBackend(served_chat).read_labels(messages, ["no", "yes"])
    for reading in (local, served):
        assert reading is not None and reading.source == "token_probability"
        assert sum(reading.probabilities.values()) == pytest.approx(1.0)
        assert reading.label == "yes"
    # the same model: both put most of the mass on the same label
    assert abs(local.probabilities["yes"] - served.probabilities["yes"]) < 0.3


def test_grounded_span_grammar_only_lets_the_model_quote_the_text(local_model):
    """Asked to paraphrase, the model still can only copy runs of the text's words."""
    from dualchecker.agents.answers import parse_answer
    from dualchecker.agents.grounding import span_grammar
    from dualchecker.agents.types import SpanTypeDef, Task

    task = Task(
        name="cause",
        kind="spans",
        instructions="Find cause and effect.",
        span_types=[SpanTypeDef(name="cause"), SpanTypeDef(name="effect")],
    )
    text = "Heavy rain flooded the valley, so the harvest failed and food prices rose."
    prompt = [
        SystemMessage(
            "Rewrite the cause and the effect in your own words, in JSON with "
            'keys "cause" and "effect" (lists), "confidence" and "rationale".'
        ),
        HumanMessage(text),
    ]
    reply = local_model.bind(grammar=span_grammar(task, text), max_tokens=160).invoke(prompt)
    answer = parse_answer(reply.content, task, text)
    quotes = [
        q for key in ("cause", "effect") for q in __import__("json").loads(reply.content)[key]
    ]
    assert quotes and all(q in text for q in quotes), reply.content
    assert answer.dropped_spans == 0 and answer.spans
