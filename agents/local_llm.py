"""A LangChain chat model that runs a GGUF model in this process with llama.cpp.

It lets the teacher run on a laptop or a CI runner without a server: the model
loads on the first call and stays loaded. Output can be constrained to a JSON
schema (llama.cpp turns the schema into a sampling grammar), which small models
need to produce parseable answers at all.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from dualchecker.agents.cores import CoreWatch, free_cores
from dualchecker.agents.model_files import KNOWN_MODELS, resolve_gguf
from dualchecker.errors import DualCheckerError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'dualchecker[local]'"
PROVIDER = "llama-cpp"
# Names other clients use for the same llama.cpp arguments.
_PARAM_ALIASES = {"max_completion_tokens": "max_tokens"}


class LlamaCppNotInstalledError(DualCheckerError, ImportError):
    """llama-cpp-python, the optional runtime of the local model, is missing."""


def require_llama_cpp() -> None:
    """Fail early, with the install command, when llama-cpp-python is absent."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LlamaCppNotInstalledError(
            f"llama-cpp-python is not installed; install the local extra: {INSTALL_HINT}"
        )


def to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain messages to the OpenAI-style dicts llama.cpp expects.

    Raises:
        ValueError: A message has a non-text content block (e.g. an image) or a
            type with no chat role.
    """
    return [{"role": _role(m), "content": _text(m)} for m in messages]


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return message.role
    roles = {
        HumanMessage: "user",
        AIMessage: "assistant",
        SystemMessage: "system",
        ToolMessage: "tool",
    }
    for kind, role in roles.items():
        if isinstance(message, kind):
            return role
    raise ValueError(f"No chat role for message type {type(message).__name__}")


def _text(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    for block in message.content:
        if isinstance(block, dict) and block.get("type") != "text":
            raise ValueError(f"The local model takes text only; got a {block.get('type')!r} block")
    return message.text


class LocalLlamaChatModel(BaseChatModel):
    """Chat model backed by an in-process ``llama_cpp.Llama``.

    Call options (bound with ``.bind(...)`` or passed to ``invoke``) override the
    defaults below: ``response_format`` (``{"type": "json_object", "schema": ...}``
    constrains output to a JSON schema), ``max_tokens``, ``temperature``, ``seed``
    and any other ``create_chat_completion`` argument. ``extra_body``,
    ``max_completion_tokens`` and OpenAI's ``{"type": "json_schema", ...}`` format
    are accepted too, so code written for ``ChatOpenAI`` works unchanged.

    llama.cpp contexts are not thread-safe: calls on one instance are serialised.
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    model_path: str
    """Path to the GGUF file."""
    model_name: str | None = None
    """Name reported in metadata; defaults to the file stem."""
    n_ctx: int = Field(4096, gt=0)
    """Context window in tokens."""
    n_threads: int | None = Field(None, gt=0)
    """CPU threads, pinned; default: the cores other processes leave free (`free_cores`), at load
    and again as the run goes (`follow_cores_s`). llama.cpp's threads wait on each other, and on
    an oversubscribed CPU all-core decoding was ~10x slower than one thread."""
    follow_cores_s: float = Field(30.0, ge=0.0)
    """Without `n_threads`: between calls, at most this often (seconds), the threads are set to
    the cores others left free since the last look, so a load that was there at start-up does
    not keep the model on one thread for hours; 0 = chosen once, at load."""
    n_gpu_layers: int = 0
    """Layers offloaded to a GPU; -1 = all."""
    chat_format: str | None = None
    """llama.cpp chat format; default: the GGUF's template."""
    temperature: float = Field(default=0.0, ge=0.0)
    max_tokens: int | None = Field(512, gt=0)
    """None = up to n_ctx."""
    seed: int | None = 0
    """Sampling seed; None = random."""
    response_format: dict[str, Any] | None = None
    """Default response_format, e.g. a JSON schema."""
    verbose: bool = False
    """Let llama.cpp log to stderr."""

    scores_labels: bool = True
    """Answers ``label_scoring`` calls."""
    accepts_grammar: bool = True
    """Takes a GBNF ``grammar`` option."""

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _watch: CoreWatch | None = PrivateAttr(default=None)

    @classmethod
    def from_spec(
        cls, model: str = "qwen2.5-coder-0.5b", *, cache_dir: Path | None = None, **kwargs: Any
    ) -> LocalLlamaChatModel:
        """Build from a known model name or a ``.gguf`` path (see ``resolve_gguf``).

        Raises:
            LlamaCppNotInstalledError: llama-cpp-python is missing.
            ModelFileError: The model file cannot be found or verified.
        """
        require_llama_cpp()
        path = resolve_gguf(model, cache_dir)
        kwargs.setdefault("model_name", model if model in KNOWN_MODELS else path.stem)
        return cls(model_path=str(path), **kwargs)

    @property
    def name_or_stem(self) -> str:
        """The model name used in metadata and cache keys."""
        return self.model_name or Path(self.model_path).stem

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # The file name rather than the full path keeps cache keys portable.
        return {
            "model_name": self.name_or_stem,
            "model_file": Path(self.model_path).name,
            "n_ctx": self.n_ctx,
            "chat_format": self.chat_format,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "response_format": self.response_format,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = PROVIDER
        params["ls_model_name"] = self.name_or_stem
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        scoring = kwargs.pop("label_scoring", None)
        if scoring is not None:
            return self._score_labels(messages, **scoring)
        params = self._call_params(stop, kwargs)
        payload = to_llama_messages(messages)
        with self._lock:
            response = self._loaded().create_chat_completion(messages=payload, **params)
        return self._to_result(response)

    def _score_labels(
        self,
        messages: list[BaseMessage],
        *,
        prefix: str,
        labels: list[str],
        verbalise: str | None = None,
        separator: str = " ",
    ) -> ChatResult:
        """Read each label's log-probability after the prompt and ``prefix`` (no sampling).

        Called as ``model.invoke(messages, label_scoring={"prefix": "Answer:", "labels": [...]})``
        so that LangChain's cache and callbacks see it like any other call. The reply's content is
        the most likely label and ``response_metadata["label_logprobs"]`` holds every label's
        log-probability of its whole continuation (so labels sharing a first token are still told
        apart). With ``verbalise`` (e.g. ``"\nConfidence:"``) the model also writes a number
        after its most likely label, for comparing verbalised with token-probability confidence.
        """
        started = time.perf_counter()
        with self._lock:
            llama = self._loaded()
            prompt = self._format_prompt(llama, messages) + prefix
            scored = score_continuations(llama, prompt, [separator + label for label in labels])
            best = labels[int(np.argmax(scored.logprobs))]
            stated = None
            if verbalise is not None:
                out = llama.create_completion(
                    prompt + " " + best + verbalise, max_tokens=4, temperature=0.0, stop=["\n"]
                )
                stated = out["choices"][0]["text"].strip()
        message = AIMessage(
            content=best,
            usage_metadata=UsageMetadata(
                input_tokens=scored.prompt_tokens,
                output_tokens=0,
                total_tokens=scored.prompt_tokens,
            ),
            response_metadata={
                "model_name": self.name_or_stem,
                "model_provider": PROVIDER,
                "label_logprobs": dict(zip(labels, scored.logprobs)),
                "label_tokens": dict(zip(labels, scored.lengths)),
                "evaluated_tokens": scored.evaluated_tokens,
                "verbalised": stated,
                "seconds": time.perf_counter() - started,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    @staticmethod
    def _format_prompt(llama: Any, messages: list[BaseMessage]) -> str:
        """The chat prompt exactly as ``create_chat_completion`` would build it, open for the
        assistant's reply."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise DualCheckerError("the GGUF file has no chat template; label scoring needs one")
        vocab = llama._model  # noqa: SLF001 - token texts for the template's bos/eos
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=vocab.token_get_text(vocab.token_eos()),
            bos_token=vocab.token_get_text(vocab.token_bos()),
        )
        return formatter(messages=to_llama_messages(messages)).prompt

    def _call_params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Defaults, overridden by call options; ``extra_body`` wins like in OpenAI clients."""
        extra_body = kwargs.pop("extra_body", None) or {}
        options = {**kwargs, **extra_body}
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "response_format": self.response_format,
        }
        params.update({_PARAM_ALIASES.get(k, k): v for k, v in options.items()})
        params["response_format"] = _llama_response_format(params["response_format"])
        if isinstance(params.get("grammar"), str):  # a GBNF text (e.g. grounded span quotes)
            from llama_cpp import LlamaGrammar

            params["grammar"] = LlamaGrammar.from_string(params["grammar"], verbose=False)
            params["response_format"] = None  # a schema would replace the grammar
        if stop:
            params["stop"] = stop
        return params

    def _loaded(self) -> Any:
        """The ``Llama`` instance, created on first use, its threads following the free cores
        (call with the lock held)."""
        if self._llama is None:
            self._llama = self._load()
            if self.n_threads is None and self.follow_cores_s > 0:
                self._watch = CoreWatch(self.follow_cores_s)
        elif self._watch is not None:
            self._follow_cores(self._llama, self._watch.free())
        return self._llama

    @staticmethod
    def _follow_cores(llama: Any, free: int | None) -> None:
        """Set a live context's threads to `free` (llama.cpp lets a context change them)."""
        if free is None or free == llama.n_threads:
            return
        logger.info("llama.cpp threads %d -> %d (the cores now free)", llama.n_threads, free)
        llama._ctx.set_n_threads(free, free)  # noqa: SLF001 - llama_set_n_threads on the context
        llama.n_threads = llama.n_threads_batch = free
        llama.context_params.n_threads = llama.context_params.n_threads_batch = free

    def _load(self) -> Any:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LlamaCppNotInstalledError(
                f"llama-cpp-python is not installed; install the local extra: {INSTALL_HINT}"
            ) from exc
        threads = self.n_threads or free_cores()
        logger.info("Loading %s (n_ctx=%d, threads=%d)", self.model_path, self.n_ctx, threads)
        extra = {} if self.seed is None else {"seed": self.seed}
        return Llama(
            model_path=self.model_path,
            n_ctx=self.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=self.n_gpu_layers,
            chat_format=self.chat_format,
            verbose=self.verbose,
            **extra,
        )

    def close(self) -> None:
        """Free the loaded model; the next call loads it again."""
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def _to_result(self, response: dict[str, Any]) -> ChatResult:
        choice = response["choices"][0]
        finish_reason = choice.get("finish_reason")
        if finish_reason == "length":
            logger.warning("%s stopped at max_tokens; output may be cut", self.name_or_stem)
        usage = response.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            id=response.get("id"),
            usage_metadata=UsageMetadata(
                input_tokens=usage.get("prompt_tokens", 0),
                output_tokens=usage.get("completion_tokens", 0),
                total_tokens=usage.get("total_tokens", 0),
            ),
            response_metadata={
                "model_name": self.name_or_stem,
                "model_provider": PROVIDER,
                "finish_reason": finish_reason,
            },
        )
        generation = ChatGeneration(
            message=message, generation_info={"finish_reason": finish_reason}
        )
        return ChatResult(
            generations=[generation],
            llm_output={"token_usage": usage, "model_name": self.name_or_stem},
        )

    def with_structured_output(
        self, schema: dict[str, Any] | type, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable:
        """Constrain output to ``schema`` by grammar sampling and parse it.

        Args:
            schema: A pydantic model class (parsed into an instance), or a JSON
                schema dict / TypedDict (parsed into a dict).
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of
                raising on a parse error.
            **kwargs: ``method`` may be ``"json_schema"`` or ``"json_mode"`` (both
                mean the same here); anything else is bound as a call option.
        """
        method = kwargs.pop("method", "json_schema")
        if method not in ("json_schema", "json_mode"):
            raise ValueError(f"{type(self).__name__} supports method='json_schema' only")
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        llm = self.bind(
            response_format={"type": "json_object", "schema": _json_schema(schema)},
            ls_structured_output_format={"kwargs": {"method": method}, "schema": schema},
            **kwargs,
        )
        parser = PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        ).with_fallbacks(
            [RunnablePassthrough.assign(parsed=lambda _: None)], exception_key="parsing_error"
        )
        return RunnableMap(raw=llm) | parsed


class ScoredContinuations(NamedTuple):
    """Each continuation's total log-probability and token count, and the tokens the scoring
    computed (`evaluated_tokens` leaves out the prompt prefix the KV cache already held)."""

    logprobs: list[float]
    prompt_tokens: int
    evaluated_tokens: int
    lengths: list[int]


def log_softmax(row: np.ndarray) -> np.ndarray:
    """Log-probabilities from one row of logits (float64, numerically stable)."""
    row = row.astype(np.float64)
    shifted = row - row.max()
    return shifted - np.log(np.exp(shifted).sum())


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def score_continuations(llama: Any, prompt: str, continuations: list[str]) -> ScoredContinuations:
    """Log-probability of each continuation of ``prompt``, from last-position logits only.

    The prompt is evaluated once, reusing llama.cpp's KV cache for the part it shares with the
    previous call (a fixed system prompt and fixed demonstrations cost nothing after the first
    record). Each continuation token after the first costs one single-token pass. ``logits_all``
    stays off: only the row that is read is ever computed.
    """
    prompt_tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
    if not prompt_tokens:
        raise ValueError("empty prompt")
    paths = [_continuation_tokens(llama, prompt, prompt_tokens, c) for c in continuations]
    evaluated = _eval_from_cache(llama, prompt_tokens)
    first = log_softmax(_last_logits(llama))
    logprobs = []
    for path in paths:
        total = float(first[path[0]])
        for depth in range(1, len(path)):
            llama.n_tokens = len(prompt_tokens) + depth - 1
            llama.eval([path[depth - 1]])
            evaluated += 1
            total += float(log_softmax(_last_logits(llama))[path[depth]])
        logprobs.append(total)
    llama.n_tokens = len(prompt_tokens)
    return ScoredContinuations(logprobs, len(prompt_tokens), evaluated, [len(p) for p in paths])


def _last_logits(llama: Any) -> np.ndarray:
    """The logits row of the last evaluated token (the only row llama.cpp computed)."""
    pointer = llama._ctx.get_logits()  # noqa: SLF001 - llama-cpp-python keeps no copy without logits_all
    return np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).copy()


def _eval_from_cache(llama: Any, tokens: list[int]) -> int:
    """Evaluate ``tokens``, keeping the KV cache of the prefix already evaluated; returns how many
    tokens were computed. The last token is always recomputed so its logits row is fresh."""
    cached = common_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
    cached = min(cached, len(tokens) - 1)
    llama.n_tokens = cached
    llama.eval(tokens[cached:])
    return len(tokens) - cached


def _continuation_tokens(llama: Any, prompt: str, prompt_tokens: list[int], text: str) -> list[int]:
    """The tokens ``text`` adds after ``prompt``, as the model would see them in one string."""
    joined = llama.tokenize((prompt + text).encode("utf-8"), add_bos=False, special=True)
    if joined[: len(prompt_tokens)] == prompt_tokens and len(joined) > len(prompt_tokens):
        return joined[len(prompt_tokens) :]
    return llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)


def _llama_response_format(fmt: dict[str, Any] | None) -> dict[str, Any] | None:
    """Map OpenAI's ``json_schema`` format to llama.cpp's, which would ignore it silently."""
    if not fmt or fmt.get("type") != "json_schema":
        return fmt
    return {"type": "json_object", "schema": fmt.get("json_schema", {}).get("schema", {})}


def _json_schema(schema: dict[str, Any] | type) -> dict[str, Any]:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema.model_json_schema()
    if isinstance(schema, dict) and ("properties" in schema or "type" in schema):
        return schema
    return convert_to_json_schema(schema)
