"""salam: let any chat model learn from its mistakes.

Public names load lazily, so ``import salam`` and the CLI start without torch or Chroma.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "resolve_chat_model": "salam.models.resolve",
    "MistakeMemory": "salam.memory.store",
    "Question": "salam.types",
    "Feedback": "salam.types",
    "Attempt": "salam.types",
    "MistakeRecord": "salam.types",
    "RetrievedMemory": "salam.types",
    "Exchange": "salam.types",
    "SalamError": "salam.errors",
    "StudyAssistant": "salam.assistant",
    "assist": "salam.assisted",
    "gather": "salam.agent",
    "examine": "salam.agent",
    "ExamResult": "salam.agent",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'salam' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
