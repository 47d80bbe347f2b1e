"""Start and stop llama.cpp's OpenAI-compatible server for tests and benchmarks.

Use the fixture factory in a test module (the server is started once per scope)::

    from llama_server import llama_server_fixture

    llama_server = llama_server_fixture("qwen2.5-coder-0.5b", scope="module")

    def test_x(llama_server):
        chat = llama_server.chat()  # ChatOpenAI against it

A missing model or runtime fails the test with the install command; it never skips.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dualchecker.agents.local_llm import require_llama_cpp
from dualchecker.agents.model_files import KNOWN_MODELS, resolve_gguf

logger = logging.getLogger(__name__)


class LlamaServerError(RuntimeError):
    """The server exited or did not answer in time; carries its log tail."""


@dataclass
class LlamaServer:
    """A running ``llama_cpp.server`` process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    alias: str
    model_path: Path
    log: IO[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, e.g. for ``ChatOpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def chat(self, timeout_s: float = 120):
        """ChatOpenAI pointed at this server: greedy, no retries (a failure should show)."""
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            base_url=self.base_url,
            api_key="sk-local",
            model=self.alias,
            temperature=0,
            max_retries=0,
            timeout=timeout_s,
        )

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the server's stdout/stderr, for error messages."""
        self.log.flush()
        return Path(self.log.name).read_bytes()[-limit:].decode(errors="replace")

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the process by PID, then kill it if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                logger.warning("llama server pid %d ignored SIGTERM; killing", self.process.pid)
                self.process.kill()
                self.process.wait(timeout=grace_s)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def free_port() -> int:
    """A TCP port that was free a moment ago on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llama_server(
    model: str | Path = "qwen2.5-coder-0.5b",
    *,
    alias: str | None = None,
    n_ctx: int = 4096,
    n_threads: int = 2,
    timeout_s: float = 120.0,
    extra_args: tuple[str, ...] = (),
) -> LlamaServer:
    """Launch the server on a free port and wait until ``/v1/models`` answers.

    Args:
        model: A known model name or a ``.gguf`` path (see ``resolve_gguf``).
        alias: The model name clients send; defaults to ``model``'s name.

    Raises:
        LlamaCppNotInstalledError, ModelFileError: The runtime or model is missing.
        LlamaServerError: The server exited early or was not ready in time.
    """
    require_llama_cpp()
    path = resolve_gguf(model)
    alias = alias or (str(model) if str(model) in KNOWN_MODELS else path.stem)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(path),
        "--model_alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(n_threads),
        "--n_threads_batch",
        str(n_threads),  # else the server uses every core for prompts
        *extra_args,
    ]
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
    logger.info("Starting %s", " ".join(command))
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = LlamaServer(process=process, port=port, alias=alias, model_path=path, log=log)
    try:
        _wait_ready(server, timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: LlamaServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise LlamaServerError(
                f"llama server exited with code {server.process.returncode}:\n{server.log_tail()}"
            )
        if _models(server) is not None:
            return
        time.sleep(0.25)
    raise LlamaServerError(
        f"llama server not ready after {timeout_s:.0f}s on port {server.port}:\n{server.log_tail()}"
    )


def _models(server: LlamaServer) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def llama_server_fixture(
    model: str = "qwen2.5-coder-0.5b", *, scope: str = "session", **kwargs: Any
) -> Callable[..., Iterator[LlamaServer]]:
    """A pytest fixture that runs one server for ``scope`` and stops it after.

    Assign the result to a module-level name (the fixture's name), or import it
    into ``conftest.py`` to share one server between modules.
    """
    import pytest

    @pytest.fixture(scope=scope)
    def server() -> Iterator[LlamaServer]:
        running = start_llama_server(model, **kwargs)
        try:
            yield running
        finally:
            running.stop()

    return server
