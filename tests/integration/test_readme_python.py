"""The README's Python examples run as written: the embedded model, then a real llama.cpp server.

Only what no test can reach is substituted: the server's port (the test starts its own) and the
hosted chat model, replaced by a scripted model without log-probabilities.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

try:
    from tests.integration.llama_server import llama_server_fixture
except ModuleNotFoundError:  # tests/ is not a package: pytest put this folder on sys.path
    from llama_server import llama_server_fixture

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
llama_server = llama_server_fixture("qwen2.5-coder-0.5b", scope="module", n_threads=1)


def python_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python") : readme.index("## LLM backends")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_embedded_model_example_runs_as_written(capsys):
    first, _ = python_blocks()
    namespace: dict = {}
    exec(compile(first, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    labelled = namespace["labelled"]
    assert len(labelled) == 2 and all(r.label in ("no", "yes") for r in labelled)
    assert all(r.confidence_source == "token_probability" for r in labelled)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 2 and "token_probability" in printed[0]


def test_the_server_and_any_chat_model_example_runs(llama_server):
    from dualchecker.agents.scripted import ScriptedChatModel

    first, second = python_blocks()
    second = second.replace("http://127.0.0.1:8011/v1", llama_server.base_url)
    second = second.replace('model="qwen2.5-0.5b"', f'model="{llama_server.alias}"')
    hosted = "from langchain_anthropic import ChatAnthropic"
    assert hosted in second
    server_part, hosted_part = second.split(hosted)
    namespace: dict = {
        "HOSTED": ScriptedChatModel(
            responder=lambda m: json.dumps({"label": "yes", "confidence": 90, "rationale": "r"})
        )
    }
    setup = first.split("# The embedded")[0]
    exec(compile(setup + server_part, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["server"].openai_api_base == llama_server.base_url
    served = namespace["labelled"]
    assert len(served) == 2 and all(r.confidence_source == "token_probability" for r in served)
    exec(
        compile("ChatAnthropic = lambda model: HOSTED\n" + hosted_part, "README.md", "exec"),
        namespace,
    )  # noqa: S102
    hosted_labels = namespace["labelled"]
    assert all(r.confidence_source == "sample_agreement" for r in hosted_labels)
