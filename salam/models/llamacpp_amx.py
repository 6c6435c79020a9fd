"""A workaround for llama.cpp's AMX weights on CPUs that have AMX.

A llama-cpp-python built on an AMX CPU (Sapphire Rapids and later: ``AMX_INT8 = 1`` in its system info) puts the
quantised weights in ggml's extra buffer types, and the first ``decode`` of the shipped Q4_K_M GGUF then segfaults
(ggml-org/llama.cpp#20824; seen here with llama-cpp-python 0.3.36; the float32 copy is unaffected). Loading with
``use_extra_bufts`` off keeps the weights in plain CPU buffers and runs. ``Llama(...)`` and ``llama_cpp.server``
expose no such option, so the model parameters' defaults are wrapped while a model loads: written here because
the library cannot do it. Builds without AMX load as before (their weight repacking is kept).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Any, Iterator


@lru_cache(maxsize=1)
def amx_build() -> bool:
    """Whether the installed llama.cpp uses AMX on this CPU."""
    import llama_cpp

    return "AMX_INT8 = 1" in llama_cpp.llama_print_system_info().decode("utf-8", "replace")


@contextlib.contextmanager
def plain_cpu_buffers() -> Iterator[None]:
    """Models loaded inside keep their weights out of ggml's extra buffer types (on AMX builds only)."""
    if not amx_build():
        yield
        return
    import llama_cpp.llama_cpp as lib  # the module Llama reads its default parameters from

    original = lib.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = defaults
    try:
        yield
    finally:
        lib.llama_model_default_params = original
