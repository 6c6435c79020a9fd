"""Exact nearest neighbours over one collection's embeddings, held in memory.

Chroma's HNSW index is approximate, and with a ``where`` filter on a common task its recall fell to
about 0.5 (measured in ``benchmarks/retrieval_recall.py``; a Chroma server under load also missed
records of rare tasks). A memory of up to a few hundred thousand records fits in RAM as one float32
matrix (100k x 384 = 150 MB), and scoring all of it is one matrix product of a few milliseconds, so
salam scores every record and returns the true top-k. Chroma stays the store of record; this index
is a read cache, rebuilt when the collection's count changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

EXACT_MAX = 250_000
"""Collections larger than this are searched with Chroma's approximate index instead (memory bound)."""


@dataclass
class ExactIndex:
    """Ids, unit-length embeddings and tasks of one collection, in Chroma's row order."""

    ids: list[str]
    vectors: np.ndarray
    tasks: np.ndarray
    _by_task: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """task -> (row numbers, their vectors): tasks partition the rows, so all of these together cost one more copy."""

    @classmethod
    def load(cls, collection: Any, page: int = 5000) -> "ExactIndex":
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        tasks: list[str] = []
        offset = 0
        while True:
            got = collection.get(include=["embeddings", "metadatas"], limit=page, offset=offset)
            ids += got["ids"]
            if len(got["ids"]):
                vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
            tasks += [str((meta or {}).get("task", "")) for meta in got["metadatas"]]
            if len(got["ids"]) < page:
                break
            offset += page
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)
        return cls(ids, matrix, np.asarray(tasks))

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, ids: Sequence[str], vectors: np.ndarray, tasks: Sequence[str]) -> None:
        """Add rows just written to the collection (cheaper than reloading a large one)."""
        self.ids += list(ids)
        self.vectors = np.concatenate([self.vectors.reshape(-1, vectors.shape[1]), np.asarray(vectors, dtype=np.float32)])
        self.tasks = np.concatenate([self.tasks, np.asarray(tasks)])
        self._by_task.clear()

    def remove(self, ids: Sequence[str]) -> None:
        """Drop rows just deleted from the collection."""
        gone = set(ids)
        keep = np.asarray([rid not in gone for rid in self.ids], dtype=bool)
        self.ids = [rid for rid, k in zip(self.ids, keep) if k]
        self.vectors, self.tasks = self.vectors[keep], self.tasks[keep]
        self._by_task.clear()

    def _subset(self, task: str | None) -> tuple[np.ndarray | None, np.ndarray]:
        if task is None:
            return None, self.vectors
        if task not in self._by_task:
            rows = np.flatnonzero(self.tasks == task)
            self._by_task[task] = (rows, np.ascontiguousarray(self.vectors[rows]))
        return self._by_task[task]

    def top(self, queries: np.ndarray, n: int, task: str | None = None) -> list[list[tuple[str, float]]]:
        """For each query row, the ``n`` most similar (id, cosine similarity), highest first."""
        rows, matrix = self._subset(task)
        if len(matrix) == 0:
            return [[] for _ in range(len(queries))]
        scores = np.asarray(queries, dtype=np.float32) @ matrix.T
        n = min(n, scores.shape[1])
        best = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        out = []
        for qi, cols in enumerate(best):
            cols = cols[np.argsort(-scores[qi, cols], kind="stable")]
            found = cols if rows is None else rows[cols]
            out.append([(self.ids[int(r)], float(scores[qi, c])) for r, c in zip(found, cols)])
        return out


def fetch_rows(collection: Any, hits: Sequence[Sequence[tuple[str, float]]]) -> list[list[tuple[str, str, dict, float]]]:
    """(id, document, metadata, distance) rows for the hits, with one Chroma ``get`` for all of them."""
    wanted = list(dict.fromkeys(rid for group in hits for rid, _ in group))
    if not wanted:
        return [[] for _ in hits]
    got = collection.get(ids=wanted, include=["documents", "metadatas"])
    found = {rid: (doc, meta) for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}
    return [[(rid, *found[rid], 1.0 - sim) for rid, sim in group if rid in found] for group in hits]
