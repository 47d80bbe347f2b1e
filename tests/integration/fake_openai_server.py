"""A tiny OpenAI-compatible chat server on 127.0.0.1 for fault-injection tests and benchmarks.

It answers ``POST /v1/chat/completions`` after a fixed delay with a valid JSON answer and token
usage, reading what to answer from the request's JSON schema (a ``label`` enum → a teacher answer,
a ``rationale`` property → a rationale, span fields → a quote from the text). A seeded share of
requests fails with HTTP 429, HTTP 500 or a hang longer than the client's timeout.

    with FakeOpenAIServer(delay_s=0.2, fail_rate=0.3) as server:
        chat = ChatOpenAI(base_url=server.base_url, api_key="sk-local", model="fake")

Run it alone for manual tests: ``python tests/integration/fake_openai_server.py --port 8019``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Fault = Literal["429", "500", "timeout"]
Answerer = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Served:
    """One request as the server saw it: what was asked and how it was answered."""

    key: str
    kind: str
    outcome: str
    started: float
    finished: float = 0.0


@dataclass
class ServerLog:
    """Thread-safe record of every request, for assertions and throughput measurements."""

    served: list[Served] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    in_flight: int = 0
    max_in_flight: int = 0
    hold_timeouts: int = 0
    """Requests released by the hold's timeout rather than by enough requests in flight."""

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.lock.notify_all()

    def leave(self, item: Served) -> None:
        with self.lock:
            self.in_flight -= 1
            self.served.append(item)

    def wait_for_in_flight(self, n: int, timeout_s: float) -> None:
        """Hold a request until ``n`` are in flight (or ``timeout_s`` passes): a deterministic
        test of concurrency on a busy machine, where a fixed delay may not overlap them."""
        with self.lock:
            if not self.lock.wait_for(lambda: self.in_flight >= n, timeout=timeout_s):
                self.hold_timeouts += 1

    def answered(self, kind: str | None = None) -> list[Served]:
        with self.lock:
            return [
                s for s in self.served if s.outcome == "ok" and (kind is None or s.kind == kind)
            ]

    def outcomes(self) -> Counter:
        with self.lock:
            return Counter(s.outcome for s in self.served)


def last_text(body: dict[str, Any]) -> str:
    """The text being labelled: the last 'Text:' line of the last user message (or the message)."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = str(users[-1].get("content", "")) if users else ""
    found = re.findall(r"^Text: (.*)$", content, flags=re.M)
    return found[-1] if found else content


def request_schema(body: dict[str, Any]) -> dict[str, Any]:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt.get("json_schema", {}).get("schema", {})
    if fmt.get("type") == "json_object":
        return fmt.get("schema", {})
    tools = body.get("tools") or []
    return tools[0]["function"].get("parameters", {}) if tools else {}


def default_answer(body: dict[str, Any]) -> dict[str, Any]:
    """A valid answer for whatever the schema asks: teacher answer, spans, or rationale."""
    props = request_schema(body).get("properties", {})
    if "confidence" not in props:
        return {"rationale": "The annotators' answer follows the labelling standard."}
    answer: dict[str, Any] = {"confidence": 90, "rationale": "The sentence says so."}
    text = last_text(body)
    for name, spec in props.items():
        if name == "label":
            answer["label"] = spec.get("enum", ["yes"])[-1 if "carbon" in text.lower() else 0]
        elif name not in ("confidence", "rationale"):
            answer[name] = " ".join(text.split()[:2])
    return answer


def kind_of(body: dict[str, Any]) -> str:
    return "teacher" if "confidence" in request_schema(body).get("properties", {}) else "rationale"


def prompt_key(body: dict[str, Any]) -> str:
    """Identifies a prompt (messages and schema), so tests can count repeats of the same call."""
    raw = json.dumps([body.get("messages"), request_schema(body)], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


class FakeOpenAIServer:
    """ThreadingHTTPServer answering chat completions; a context manager that starts and stops it."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        fail_rate: float = 0.0,
        faults: tuple[Fault, ...] = ("429", "500", "timeout"),
        hang_s: float = 2.0,
        hold_until_in_flight: int = 0,
        seed: int = 0,
        port: int = 0,
        answer: Answerer = default_answer,
    ):
        self.delay_s, self.fail_rate, self.faults, self.hang_s = delay_s, fail_rate, faults, hang_s
        self.hold_until_in_flight = hold_until_in_flight
        self.answer = answer
        self.log = ServerLog()
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def draw_fault(self) -> Fault | None:
        with self._rng_lock:
            if self._rng.random() >= self.fail_rate:
                return None
            return self._rng.choice(self.faults)

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    usage = {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(content) // 4 + 1}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "usage": usage,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
    }


def _handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            item = Served(
                key=prompt_key(body), kind=kind_of(body), outcome="ok", started=time.time()
            )
            server.log.enter()
            try:
                item.outcome = self._answer(body)
            except (BrokenPipeError, ConnectionResetError):
                item.outcome = "client gone"
            finally:
                item.finished = time.time()
                server.log.leave(item)

        def _answer(self, body: dict[str, Any]) -> str:
            fault = server.draw_fault()
            if fault == "timeout":
                time.sleep(server.hang_s)
                self.close_connection = True
                try:  # the client has usually given up by now
                    self._send(200, _completion(body, "{}"))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return "timeout"
            if server.hold_until_in_flight:
                server.log.wait_for_in_flight(server.hold_until_in_flight, timeout_s=5.0)
            time.sleep(server.delay_s)
            fast_retry = {"retry-after-ms": "10"}
            if fault == "429":
                self._send(
                    429, {"error": {"message": "rate limited", "type": "rate_limit"}}, fast_retry
                )
                return "429"
            if fault == "500":
                self._send(500, {"error": {"message": "boom", "type": "server_error"}}, fast_retry)
                return "500"
            self._send(200, _completion(body, json.dumps(server.answer(body))))
            return "ok"

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8019)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeOpenAIServer(delay_s=args.delay, fail_rate=args.fail_rate, port=args.port)
    print(f"serving {server.base_url}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
