"""salam: let any chat model learn from its mistakes.

Public names load lazily, so ``import salam`` and the CLI start without torch or Chroma; the
``TYPE_CHECKING`` block lets editors and type checkers see them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from salam.provenance import __version__

_EXPORTS = {
    "resolve_chat_model": "salam.models.resolve",
    "MistakeMemory": "salam.memory.store",
    "Embedder": "salam.memory.embeddings",
    "Question": "salam.types",
    "Feedback": "salam.types",
    "Attempt": "salam.types",
    "MistakeRecord": "salam.types",
    "RetrievedMemory": "salam.types",
    "Exchange": "salam.types",
    "SalamError": "salam.errors",
    "StudyAssistant": "salam.assistant.assistant",
    "assist": "salam.chat",
    "StudyAssistedChatModel": "salam.chat",
    "gather": "salam.loops",
    "GatherReport": "salam.loops",
    "examine": "salam.loops",
    "ExamResult": "salam.loops",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from salam.assistant.assistant import StudyAssistant
    from salam.chat import StudyAssistedChatModel, assist
    from salam.errors import SalamError
    from salam.loops import ExamResult, GatherReport, examine, gather
    from salam.memory.embeddings import Embedder
    from salam.memory.store import MistakeMemory
    from salam.models.resolve import resolve_chat_model
    from salam.types import Attempt, Exchange, Feedback, MistakeRecord, Question, RetrievedMemory


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'salam' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
