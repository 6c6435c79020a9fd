"""The mistake memory: Chroma store, embedders, import/export."""

from salam.memory.store import MistakeMemory, PruneReport

__all__ = ["MistakeMemory", "PruneReport"]
