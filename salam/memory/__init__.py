"""The mistake memory: Chroma store, embedders, import/export."""

from salam.memory.prune import PruneReport
from salam.memory.store import MistakeMemory

__all__ = ["MistakeMemory", "PruneReport"]
