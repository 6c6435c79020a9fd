"""A scripted OpenAI-compatible server on localhost, for tests and for timing salam's request scheduling.

It answers ``/v1/completions`` and ``/v1/chat/completions`` from a Python function, after an optional delay,
and can fail on purpose (a status code for the first requests, or no logprobs), so concurrency, retries,
resumes and one-line errors are tested against real HTTP. Written with the standard library's threading
HTTP server: one thread per connection is what a latency-bound endpoint looks like from the client.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Reply = Callable[[str], tuple[str, dict[str, float]]]
"""prompt -> (the completion's text, the first token's top log-probabilities)."""


def letter_reply(letter: str = "A") -> Reply:
    """A server that always prefers ``letter`` (log-probabilities -0.1 for it, lower for B, C, yes, no)."""
    def reply(prompt: str) -> tuple[str, dict[str, float]]:
        top = {t: -3.0 - i for i, t in enumerate(("A", "B", "C", " yes", " no")) if t != letter}
        return letter, {letter: -0.1, **top}
    return reply


@dataclass
class ScriptedServer:
    """``with ScriptedServer(reply) as server: ... server.url`` (an ``http://127.0.0.1:PORT/v1`` base URL).

    ``GET /stats`` answers ``{"requests": n, "in_flight_max": m}`` (for a benchmark in another process).
    """

    reply: Reply = field(default_factory=letter_reply)
    port: int = 0
    """0: any free port."""
    delay_s: float = 0.0
    """Seconds each request waits before it is answered (a remote API's latency)."""
    fail_first: list[int] = field(default_factory=list)
    """Status codes the first requests get, in order (e.g. [429, 503]); then it answers."""
    fail_from: int | None = None
    """Every request from this number on gets a 503 (a server that died), until set back to None."""
    logprobs: bool = True
    """False: answers carry no logprobs, as a server that does not compute them."""
    chat_only: bool = False
    """True: /v1/completions is 404, as a chat-only API."""
    requests: int = 0
    in_flight_max: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> "ScriptedServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                data = json.dumps({"requests": server.requests, "in_flight_max": server.in_flight_max}).encode()
                self.send_response(200 if self.path.endswith("/stats") else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                status, payload = server._answer(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def _answer(self, path: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests += 1
            n = self.requests
            self._in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self._in_flight)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            if n <= len(self.fail_first):
                return self.fail_first[n - 1], {"error": {"message": f"scripted failure {self.fail_first[n - 1]}"}}
            if self.fail_from is not None and n >= self.fail_from:
                return 503, {"error": {"message": "scripted: the server is down"}}
            if path.endswith("/chat/completions"):
                prompt = "\n\n".join(str(m.get("content", "")) for m in body.get("messages", []))
                return 200, self._chat(body, *self.reply(prompt))
            if path.endswith("/completions") and not self.chat_only:
                return 200, self._completion(body, *self.reply(str(body.get("prompt", ""))))
            return 404, {"error": {"message": f"no route {path}"}}
        finally:
            with self._lock:
                self._in_flight -= 1

    def _usage(self, prompt_words: int, text: str) -> dict:
        return {"prompt_tokens": prompt_words, "completion_tokens": max(1, len(text.split())),
                "total_tokens": prompt_words + max(1, len(text.split()))}

    def _completion(self, body: dict, text: str, top: dict[str, float]) -> dict:
        k = int(body.get("logprobs") or 0)
        text = text if int(body.get("max_tokens") or 16) > 1 else next(iter(top), text)
        logprobs = {"tokens": [text], "token_logprobs": [max(top.values())],
                    "top_logprobs": [dict(list(top.items())[:k])], "text_offset": [0]} if self.logprobs and k else None
        return {"id": "cmpl-scripted", "object": "text_completion", "created": 0, "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": logprobs}],
                "usage": self._usage(len(str(body.get("prompt", "")).split()), text)}

    def _chat(self, body: dict, text: str, top: dict[str, float]) -> dict:
        k = int(body.get("top_logprobs") or 0)
        logprobs = None
        if self.logprobs and body.get("logprobs"):
            first = next(iter(top), text)
            logprobs = {"content": [{"token": first, "logprob": top.get(first, 0.0), "bytes": None,
                                     "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in list(top.items())[:k]]}]}
        words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                             "logprobs": logprobs}],
                "usage": self._usage(words, text)}
