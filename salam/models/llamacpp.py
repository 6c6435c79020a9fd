"""llama.cpp in-process as the engine of ``local`` (``--engine llamacpp``): the embedded GGUF read as it ships.

transformers has to dequantise the Q4_K_M weights to float32 and writes ~8 tokens/s on two cores; llama.cpp
runs the quantised weights directly. The model answers, writes and scores letters here exactly as the
transformers engine does (same plain prompt, BOS first, the letter's first token after ``Answer: (``);
training stays on transformers, and a trained LoRA adapter is converted once into llama.cpp's adapter GGUF
(:mod:`salam.models.lora_gguf`).
"""

from __future__ import annotations

import atexit
import os
import re
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from pydantic import PrivateAttr

from salam.errors import MissingExtraError, SalamError
from salam.models.local import plain_prompt, reply_message

INSTALL_HINT = "pip install 'salam[llamacpp]'"
CONTEXT_TOKENS = 4096
"""The context llama.cpp allocates: the longest chain-of-thought prompt (3 exemplars) plus its 512-token answer."""


def require_llama_cpp() -> None:
    """One line with the install command when llama-cpp-python is missing."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(f"--engine llamacpp needs llama-cpp-python: {INSTALL_HINT}") from exc


def embedded_gguf(float32: bool = False) -> Path:
    """The embedded model's GGUF, assembled once from its package into salam's model cache; with ``float32``,
    its float32 copy (:mod:`salam.models.gguf_float32`, 1.1 GB), written once beside it."""
    from filelock import FileLock

    from salam._util.home import models_cache_dir
    from salam.models.embedded import _gguf_package

    pkg = _gguf_package()
    quantised = models_cache_dir() / f"{pkg.EXPECTED_SHA256}.gguf"
    target = quantised.with_suffix(".f32.gguf") if float32 else quantised
    if target.is_file():
        return target
    source = embedded_gguf() if float32 else None
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not target.is_file():
            partial = target.with_suffix(".partial")
            if source is None:
                pkg.assemble(partial, overwrite=True)
            else:
                from salam.models.gguf_float32 import write_float32

                write_float32(source, partial)
            partial.replace(target)  # atomic: a reader never sees half a model
    return target


_load_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load(model_path: str, lora_path: str | None) -> Any:
    import logging

    from llama_cpp import Llama

    from salam.models.llamacpp_amx import plain_cpu_buffers

    logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)  # its load and adapter notes are not errors
    try:
        with plain_cpu_buffers():  # AMX CPUs: llama.cpp's AMX weights segfault in decode
            model = Llama(model_path=model_path, lora_path=lora_path, n_ctx=CONTEXT_TOKENS, n_batch=512,
                          n_threads=max(1, os.cpu_count() or 1), logits_all=False, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise SalamError(f"llama.cpp cannot load {lora_path or model_path}: {str(exc).splitlines()[0]}") from exc
    # Closed before interpreter teardown: llama-cpp-python's __del__ otherwise runs after its C library is gone
    # and prints a traceback at exit.
    atexit.register(model.close)
    return model


class LlamaCppChatModel(BaseChatModel):
    """Chat model over llama.cpp in-process; greedy by default; the same methods as :class:`LocalChatModel`."""

    model_path: str
    lora_path: str | None = None
    model_name: str = "local"
    max_new_tokens: int = 64
    temperature: float = 0.0
    stop: list[str] | None = None
    batch_size: int = 8
    max_input_tokens: int = 1536
    engine: str = "llamacpp"
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "salam-llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "model_path": self.model_path, "lora_path": self.lora_path}

    def _llama(self) -> Any:
        with _load_lock:
            return _load(self.model_path, self.lora_path)

    def format_prompt(self, messages: Sequence[BaseMessage]) -> str:
        """Plain text, as the transformers engine reads the embedded model (its template is the plain one)."""
        return plain_prompt(messages)

    def _tokens(self, text: str) -> list[int]:
        """BOS, then the text, cut from the left to ``max_input_tokens`` as the transformers engine cuts."""
        ids = self._llama().tokenize(text.encode("utf-8"), add_bos=True, special=True)
        return ids if len(ids) <= self.max_input_tokens else ids[:1] + ids[len(ids) - self.max_input_tokens + 1:]

    def count_tokens(self, formatted_prompts: list[str]) -> list[int]:
        return [len(self._tokens(p)) - 1 for p in formatted_prompts]

    # -- letter scoring ----------------------------------------------------------------------------
    def score_options(self, prompts: list[str], choices: list[list[str]]) -> list[list[float]]:
        """Log-probabilities of each choice's first token after each prompt: one evaluation of the prompt each."""
        import llama_cpp
        import numpy as np

        llm = self._llama()
        scores = []
        with self._lock:
            for prompt, options in zip(prompts, choices):
                llm.reset()
                llm.eval(self._tokens(prompt))
                logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
                logits = logits.astype(np.float64)
                logprobs = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
                ids = [llm.tokenize(o.encode("utf-8"), add_bos=False, special=False)[0] for o in options]
                scores.append([float(logprobs[i]) for i in ids])
        return scores

    # -- generation --------------------------------------------------------------------------------
    def generate_texts(self, prompts: list[str], stop: list[str] | None = None, max_new_tokens: int | None = None,
                       stop_pattern: str | None = None) -> list[tuple[str, int, int, float]]:
        """(text, input_tokens, output_tokens, seconds) per prompt, one sequence at a time (llama.cpp reuses the
        shared prefix of consecutive prompts, e.g. chain-of-thought exemplars, from its cache)."""
        llm = self._llama()
        stops = [s for s in (stop or self.stop or []) if s]
        regex = re.compile(stop_pattern) if stop_pattern else None
        out = []
        with self._lock:
            for prompt in prompts:
                tokens = self._tokens(prompt)
                began = time.perf_counter()
                text, n_out = "", 0
                for chunk in llm.create_completion(tokens, max_tokens=max_new_tokens or self.max_new_tokens,
                                                   temperature=self.temperature, stop=stops or None, stream=True,
                                                   top_k=0 if self.temperature else 40, top_p=1.0, min_p=0.0):
                    text += chunk["choices"][0]["text"]
                    n_out += 1
                    if regex and (match := regex.search(text)):
                        text = text[: match.end()]
                        break
                out.append((text, len(tokens), n_out, time.perf_counter() - began))
        return out

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        (text, n_in, n_out, seconds), = self.generate_texts([self.format_prompt(messages)], stop=stop,
                                                            max_new_tokens=kwargs.get("max_new_tokens"))
        return ChatResult(generations=[ChatGeneration(message=reply_message(text, n_in, n_out, seconds, self.model_name, self.engine))])

    def batch(self, inputs: list[LanguageModelInput], config: RunnableConfig | list[RunnableConfig] | None = None, *,
              return_exceptions: bool = False, **kwargs: Any) -> list[AIMessage]:
        """The prompts one after another (llama.cpp's Python API decodes one sequence at a time)."""
        prompts = [self.format_prompt(self._convert_input(i).to_messages()) for i in inputs]
        try:
            outs = self.generate_texts(prompts, stop=kwargs.get("stop"), max_new_tokens=kwargs.get("max_new_tokens"),
                                       stop_pattern=kwargs.get("stop_pattern"))
        except Exception as exc:  # noqa: BLE001 - LangChain's contract for return_exceptions
            if return_exceptions:
                return [exc] * len(inputs)  # type: ignore[list-item]
            raise
        return [reply_message(t, i, o, s, self.model_name, self.engine) for t, i, o, s in outs]


def embedded_llamacpp(adapter_dir: str | None, float32: bool = False, **kwargs: Any) -> LlamaCppChatModel:
    """``local`` / ``local+lora:DIR`` on llama.cpp: the embedded GGUF (as shipped, or its float32 copy), and the
    adapter converted once."""
    from salam.models.embedded import EMBEDDED_NAME

    require_llama_cpp()
    lora = None
    name = EMBEDDED_NAME
    if adapter_dir is not None:
        from salam.models.lora_gguf import adapter_gguf

        lora = str(adapter_gguf(Path(adapter_dir)))
        name = f"{EMBEDDED_NAME}+lora:{'/'.join(Path(adapter_dir).resolve().parts[-2:])}"
    return LlamaCppChatModel(model_path=str(embedded_gguf(float32)), lora_path=lora, model_name=name,
                             engine="llamacpp-f32" if float32 else "llamacpp", **kwargs)
