"""How salam talks to a served model: bounded concurrency, retries, request counts, and a response journal.

The openai client already retries rate limits, 5xx and timeouts with exponential backoff (``max_retries``);
what it cannot do is say how often that happened per phase of a run, or keep the answers that arrived
before a kill. Both are done here at the HTTP transport, so every call — chat, completions, the study
assistant's, the self-correction turns' — is counted and journaled the same way without each caller knowing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

import httpx

from salam.errors import SalamError

DEFAULT_MAX_CONCURRENCY = 10
"""Requests in flight per model: inspect_ai's default connections per model."""
DEFAULT_MAX_RETRIES = 5
DEFAULT_TIMEOUT_S = 120.0
LogprobsEndpoint = Literal["completions", "chat"]

_phase: ContextVar[str] = ContextVar("salam_request_phase", default="other")
_journal_lock = threading.Lock()
"""One lock for every journal append: a run's main model and assistant may share one file."""


@contextmanager
def request_phase(name: str) -> Iterator[None]:
    """Count the requests made inside this block under ``name`` (gather, none, self_correct, ...)."""
    token = _phase.set(name)
    try:
        yield
    finally:
        _phase.reset(token)


@dataclass(frozen=True)
class ServingOptions:
    """How requests to a server go out; none of these change a result, so ``--resume`` may change them."""

    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    """Requests in flight at most."""
    max_retries: int = DEFAULT_MAX_RETRIES
    """Retries of a request on a rate limit, a 5xx or a timeout (exponential backoff, the openai client's)."""
    timeout: float = DEFAULT_TIMEOUT_S
    """Seconds one request may take before it is retried."""
    logprobs: LogprobsEndpoint = "completions"
    """Where choice mode reads letter log-probabilities: ``completions`` (the raw prompt, what vLLM and
    llama.cpp serve) or ``chat`` (chat-completions ``top_logprobs``, for chat-only APIs)."""

    def __post_init__(self) -> None:
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise SalamError(f"--max-concurrency must be a whole number of at least 1, not {self.max_concurrency!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise SalamError(f"--max-retries must be a whole number of at least 0, not {self.max_retries!r}")
        if not self.timeout > 0:
            raise SalamError(f"--timeout must be a positive number of seconds, not {self.timeout!r}")
        if self.logprobs not in ("completions", "chat"):
            raise SalamError(f"--logprobs must be completions or chat, not {self.logprobs!r}")


class RequestCounts:
    """Requests, retries, errors and replayed responses per phase; thread-safe."""

    FIELDS = ("requests", "retries", "errors", "replayed", "missing_letters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_phase: dict[str, dict[str, int]] = {}

    def add(self, field: str, n: int = 1, phase: str | None = None) -> None:
        with self._lock:
            row = self._by_phase.setdefault(phase or _phase.get(), dict.fromkeys(self.FIELDS, 0))
            row[field] += n

    def take(self) -> dict[str, dict[str, int]]:
        """The counts so far, and start again from zero (the run folder sums them over resumes)."""
        with self._lock:
            out, self._by_phase = self._by_phase, {}
        return out


def request_key(method: str, path: str, body: bytes) -> str:
    """The identity of a request in the journal: the same body to the same endpoint is the same question."""
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


class JournalTransport(httpx.BaseTransport):
    """An httpx transport that counts every request and journals every successful response.

    A run folder attaches a journal file (:meth:`attach`): each response is appended as it arrives, and after a
    kill the next process answers the same requests from it, once each, so a resumed run loses only what was in
    flight. Built on httpx's transport interface because the openai client retries above it: each retry
    passes through here and carries its number in the ``x-stainless-retry-count`` header.
    """

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner or httpx.HTTPTransport()
        self.counts = RequestCounts()
        self._lock = threading.Lock()
        self._journal: Path | None = None
        self._replay: dict[str, list[bytes]] = {}

    def attach(self, journal: Path) -> None:
        """Journal to ``journal`` from now on, replaying what it already holds."""
        replay: dict[str, list[bytes]] = {}
        if journal.is_file():
            for line in journal.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    replay.setdefault(row["key"], []).append(row["body"].encode())
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a line cut by a kill: that response is asked again
        with self._lock:
            self._journal, self._replay = journal, replay

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        key = request_key(request.method, request.url.path, body)
        with self._lock:
            recorded = self._replay.get(key)
            replayed = recorded.pop(0) if recorded else None
        if replayed is not None:
            self.counts.add("replayed")
            return httpx.Response(200, content=replayed, headers={"content-type": "application/json"}, request=request)
        self.counts.add("requests")
        if int(request.headers.get("x-stainless-retry-count", "0") or 0) > 0:
            self.counts.add("retries")
        try:
            response = self.inner.handle_request(request)
        except httpx.HTTPError:
            self.counts.add("errors")
            raise
        content = response.read()
        if response.status_code >= 400:
            self.counts.add("errors")
        elif self._journal is not None:
            self._record(key, content)
        return response

    def _record(self, key: str, content: bytes) -> None:
        line = json.dumps({"key": key, "body": content.decode("utf-8", errors="replace")}) + "\n"
        with _journal_lock, open(self._journal, "a", encoding="utf-8") as fh:  # type: ignore[arg-type]
            fh.write(line)

    def close(self) -> None:
        self.inner.close()


def map_bounded(fn: Any, items: list[Any], max_concurrency: int) -> list[Any]:
    """``fn`` over ``items`` with at most ``max_concurrency`` calls in flight, results in order.

    Each call runs in a copy of the caller's context, so its requests count under the caller's phase.
    """
    from concurrent.futures import ThreadPoolExecutor
    from contextvars import copy_context

    if len(items) <= 1 or max_concurrency <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(items))) as pool:
        futures = [pool.submit(copy_context().run, fn, item) for item in items]
        return [f.result() for f in futures]
