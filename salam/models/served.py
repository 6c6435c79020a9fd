"""A model behind an OpenAI-compatible server, with letter scoring from logprobs and bounded concurrency.

lm-evaluation-harness scores a letter by the log-probability the model gives it after the prompt. A server
that has no ``echo`` (llama.cpp's) cannot return prompt log-probabilities, but every one returns the
first generated token's ``top_logprobs``: after a prompt ending in ``Answer: (`` that is the letter
distribution the local model reads from its logits. ``/v1/completions`` takes the raw prompt (what the
local base model scores); chat-completions ``top_logprobs`` serve chat-only APIs.
"""

from __future__ import annotations

import re
import time
from typing import Any, Sequence

from langchain_core.messages import BaseMessage
from langchain_openai import ChatOpenAI
from pydantic import Field, PrivateAttr

from salam.errors import SalamError
from salam.models.local import plain_prompt
from salam.models.serving import JournalTransport, ServingOptions, map_bounded

TOP_LOGPROBS = 20
"""Tokens asked for per position: OpenAI's chat API allows 20, vLLM's default cap is 20."""


def _norm_token(token: str) -> str:
    return token.strip().strip("()").strip()


def option_logprobs(top: dict[str, float], options: Sequence[str]) -> tuple[list[float], int]:
    """Each option's log-probability among a position's top tokens, and how many were not among them.

    An exact token wins; else the best token equal to the option once spaces and brackets are stripped
    (a chat model may write `` B`` or ``(B``). A missing option gets the least top-k log-probability as
    its floor: its true value is at most that, and it can never outscore an option that was listed.
    """
    floor = min(top.values())
    scores, missing = [], 0
    for option in options:
        if option in top:
            scores.append(float(top[option]))
            continue
        near = [lp for token, lp in top.items() if _norm_token(token) == _norm_token(option) and _norm_token(option)]
        if near:
            scores.append(float(max(near)))
        else:
            scores.append(float(floor))
            missing += 1
    return scores, missing


class ServedChatModel(ChatOpenAI):
    """``openai:MODEL --base-url URL``: ChatOpenAI plus what choice mode, the protocols and a run folder need."""

    serving: ServingOptions = Field(default_factory=ServingOptions, exclude=True)
    transport: Any = Field(default=None, exclude=True)
    top_logprobs_k: int = TOP_LOGPROBS
    _prompt_tokens: dict[str, int] = PrivateAttr(default_factory=dict)
    _scoring_checked: bool = PrivateAttr(default=False)

    @classmethod
    def connect(cls, model: str, base_url: str | None, serving: ServingOptions | None = None, **kwargs: Any) -> "ServedChatModel":
        """A model whose every request goes through one counting, journaling transport."""
        import httpx

        serving = serving or ServingOptions()
        transport = JournalTransport()
        limits = httpx.Limits(max_connections=serving.max_concurrency, max_keepalive_connections=serving.max_concurrency)
        client = httpx.Client(transport=transport, timeout=serving.timeout, limits=limits)
        if base_url:
            kwargs["base_url"] = base_url
        return cls(model=model, serving=serving, transport=transport, http_client=client,
                   max_retries=serving.max_retries, timeout=serving.timeout, **kwargs)

    @property
    def max_concurrency(self) -> int:
        return self.serving.max_concurrency

    @property
    def scoring_path(self) -> str:
        return "/completions" if self.serving.logprobs == "completions" else "/chat/completions"

    @property
    def endpoint(self) -> str:
        """Where letter log-probabilities come from, as reports name it."""
        return f"top-{self.top_logprobs_k} logprobs of {self.scoring_path}"

    # -- what the Answerer needs ------------------------------------------------------------------
    def format_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """The raw prompt the local base model scores (no chat template: the server's completions take text)."""
        return plain_prompt(messages)

    def count_tokens(self, formatted_prompts: list[str]) -> list[int]:
        """Prompt tokens as the server counted them when it scored these prompts (0 if it did not say)."""
        return [self._prompt_tokens.pop(p, 0) for p in formatted_prompts]  # read once: the dict never grows

    def check_scoring(self) -> None:
        """One request, once: refuse (one line) a server whose endpoint returns no top log-probabilities."""
        from salam.models.serving import request_phase

        if self._scoring_checked:
            return
        try:
            with request_phase("check"):
                self._top_logprobs("Answer: (")
        except SalamError as exc:
            raise SalamError(f"--answer-mode choice needs letter log-probabilities, and {exc}") from exc
        self._scoring_checked = True

    def score_options(self, prompts: list[str], choices: list[list[str]]) -> list[list[float]]:
        """Log-probabilities of each choice as the first token after each prompt; requests go out concurrently."""
        def score(item: tuple[str, list[str]]) -> list[float]:
            top = self._top_logprobs(item[0])
            scores, missing = option_logprobs(top, item[1])
            if missing:
                self.transport.counts.add("missing_letters", missing)
            return scores

        return map_bounded(score, list(zip(prompts, choices)), self.max_concurrency)

    def generate_texts(self, prompts: list[str], stop: list[str] | None = None, max_new_tokens: int | None = None,
                       stop_pattern: str | None = None) -> list[tuple[str, int, int, float]]:
        """Raw-prompt completions (the local model's ``generate_texts``): (text, input_tokens, output_tokens, seconds)."""
        def complete(prompt: str) -> tuple[str, int, int, float]:
            began = time.perf_counter()
            reply = self._call(lambda c: c.completions.create(
                model=self.model_name, prompt=prompt, max_tokens=max_new_tokens or self.max_tokens or 256,
                temperature=self.temperature or 0.0, stop=[s for s in (stop or []) if s][:4] or None), "/completions")
            text = reply.choices[0].text or ""
            if stop_pattern and (match := re.search(stop_pattern, text)):
                text = text[: match.end()]
            usage = reply.usage
            return text, getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0, time.perf_counter() - began

        return map_bounded(complete, list(prompts), self.max_concurrency)

    def batch(self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        """LangChain's batch with at most ``max_concurrency`` requests in flight, errors as one line."""
        import openai

        config = {**(config or {}), "max_concurrency": self.max_concurrency} if not isinstance(config, list) else config
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        except openai.OpenAIError as exc:
            raise self._failure(exc, "/chat/completions") from exc

    # -- requests --------------------------------------------------------------------------------
    def _top_logprobs(self, prompt: str) -> dict[str, float]:
        k = self.top_logprobs_k
        if self.serving.logprobs == "completions":
            reply = self._call(lambda c: c.completions.create(model=self.model_name, prompt=prompt, max_tokens=1,
                                                               temperature=0.0, logprobs=k))
            logprobs = reply.choices[0].logprobs if reply.choices else None
            top = (logprobs.top_logprobs or [None])[0] if logprobs else None
        else:
            reply = self._call(lambda c: c.chat.completions.create(
                model=self.model_name, messages=[{"role": "user", "content": prompt}], max_tokens=1, temperature=0.0,
                logprobs=True, top_logprobs=k))
            logprobs = reply.choices[0].logprobs if reply.choices else None
            content = (logprobs.content or []) if logprobs else []
            top = {t.token: t.logprob for t in content[0].top_logprobs} if content else None
        if not top:
            raise SalamError(f"{self._where()} returned no top_logprobs for the first token "
                             f"(use --answer-mode generate{', or --logprobs chat' if self.serving.logprobs == 'completions' else ''})")
        usage = getattr(reply, "usage", None)
        if usage is not None and getattr(usage, "prompt_tokens", None):
            self._prompt_tokens[prompt] = int(usage.prompt_tokens)
        return {str(token): float(lp) for token, lp in top.items()}

    def _call(self, request: Any, path: str | None = None) -> Any:
        import openai

        try:
            return request(self.root_client)
        except openai.OpenAIError as exc:
            raise self._failure(exc, path) from exc

    def _where(self, path: str | None = None) -> str:
        from salam._util.urls import redact_url

        return f"{redact_url(str(self.openai_api_base or 'https://api.openai.com/v1'))}{path or self.scoring_path}"

    def _failure(self, exc: Exception, path: str | None = None) -> SalamError:
        import openai

        message = str(getattr(exc, "message", "") or exc).splitlines()[0] if str(exc) else type(exc).__name__
        retried = isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
                                   openai.InternalServerError))
        after = f" after {self.serving.max_retries} retries" if retried else ""
        return SalamError(f"{self._where(path)} failed{after}: {type(exc).__name__}: {message[:200]}")

