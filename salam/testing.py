"""Test kit for salam and its users: a scripted chat model and a deterministic embedder.

Use them in your own tests so they run offline, fast and reproducibly::

    from salam.testing import ScriptedChatModel, HashEmbedder
    model = ScriptedChatModel(replies=["The answer is (A)", "The answer is (B)"])
    model = ScriptedChatModel(reply_fn=lambda prompt: "(B)" if "Guideline" in prompt else "(A)")
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from salam.memory.embeddings import HashEmbedder

__all__ = ["HashEmbedder", "ScriptedChatModel", "messages_to_text", "run_cli"]


def messages_to_text(messages: Sequence[BaseMessage]) -> str:
    """Join messages as ``role: content`` lines; what the scripted model sees as its prompt."""
    return "\n".join(f"{m.type}: {m.content}" for m in messages)


class ScriptedChatModel(BaseChatModel):
    """A chat model whose replies come from a list (cycled) or a function of the prompt text.

    Every prompt it receives is kept in ``prompts`` so tests can assert what was sent.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    replies: list[str] = Field(default_factory=list)
    reply_fn: Callable[[str], str] | None = None
    name_: str = "scripted"
    _index: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _prompts: list[str] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "salam-scripted"

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    def _next_reply(self, prompt: str) -> str:
        with self._lock:
            self._prompts.append(prompt)
            if self.reply_fn is not None:
                return self.reply_fn(prompt)
            if not self.replies:
                return ""
            reply = self.replies[self._index % len(self.replies)]
            self._index += 1
            return reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = messages_to_text(messages)
        text = self._next_reply(prompt)
        for s in stop or []:
            if s in text:
                text = text[: text.index(s)]
        usage = {
            "input_tokens": len(prompt.split()),
            "output_tokens": len(text.split()),
            "total_tokens": len(prompt.split()) + len(text.split()),
        }
        message = AIMessage(content=text, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])


def run_cli(*args: str) -> tuple[int, str, str]:
    """``salam ARGS`` in this process, through the console entry point: (exit code, stdout, stderr).

    Fast enough to drive the CLI hundreds of times in a test; an exception escaping the entry point
    (what a user would see as a traceback) propagates to the caller.
    """
    import contextlib
    import io
    import sys

    from salam.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["salam", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()
