"""Exact nearest neighbours over one collection's embeddings, held in memory.

Chroma's HNSW index is approximate, and with a ``where`` filter on a common task its recall fell to
about 0.5 (measured in ``benchmarks/retrieval_recall.py``; a Chroma server under load also missed
records of rare tasks). A memory of up to a few hundred thousand records fits in RAM as one float32
matrix (100k x 384 = 150 MB), and scoring all of it is one matrix product of a few milliseconds, so
salam scores every record and returns the true top-k. Chroma stays the store of record; this index
is a read cache that also holds each record's document and metadata, so that a store whose folder
this process has locked (the only writer, keeping the cache in step) answers a query with no Chroma
call at all. A shared server may have other writers: there the cache is rebuilt when the count
changes and the hits' rows are fetched from Chroma.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from salam.memory.codec import from_chroma, question_key, question_stem
from salam.types import RetrievedMemory

EXACT_MAX = 250_000
"""Collections larger than this are searched with Chroma's approximate index instead (memory bound)."""


@dataclass
class ExactIndex:
    """Ids, unit-length embeddings, tasks, documents and metadata of one collection, in Chroma's row order."""

    ids: list[str]
    vectors: np.ndarray
    tasks: np.ndarray
    documents: list[str] = field(default_factory=list)
    metadatas: list[dict] = field(default_factory=list)
    _by_task: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """task -> (row numbers, their vectors): tasks partition the rows, so all of these together cost one more copy."""
    _rows: dict[str, int] | None = None
    """id -> row number, built on first use."""
    _haystack: list[str] | None = None
    """Each row's question, reason and guideline, case-folded, for full-text search (built on first use)."""

    @classmethod
    def from_pages(cls, pages: Iterable[dict[str, Any]]) -> "ExactIndex":
        """The index of a collection read as ``get`` pages with embeddings, documents and metadatas."""
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        documents: list[str] = []
        metadatas: list[dict] = []
        for got in pages:
            ids += got["ids"]
            if len(got["ids"]):
                vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
            documents += got["documents"]
            metadatas += [dict(meta or {}) for meta in got["metadatas"]]
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)
        tasks = np.asarray([str(meta.get("task", "")) for meta in metadatas])
        return cls(ids, matrix, tasks, documents, metadatas)

    def __len__(self) -> int:
        return len(self.ids)

    def extend(self, ids: Sequence[str], vectors: np.ndarray, documents: Sequence[str], metadatas: Sequence[dict]) -> None:
        """Add rows just written to the collection (cheaper than reloading a large one)."""
        self.ids += list(ids)
        self.vectors = np.concatenate([self.vectors.reshape(-1, vectors.shape[1]), np.asarray(vectors, dtype=np.float32)])
        self.tasks = np.concatenate([self.tasks, np.asarray([str(meta.get("task", "")) for meta in metadatas])])
        self.documents += list(documents)
        self.metadatas += [dict(meta) for meta in metadatas]
        self._by_task.clear()
        self._rows = self._haystack = None

    def remove(self, ids: Sequence[str]) -> None:
        """Drop rows just deleted from the collection."""
        gone = set(ids)
        keep = [rid not in gone for rid in self.ids]
        self.ids = [rid for rid, k in zip(self.ids, keep) if k]
        self.documents = [doc for doc, k in zip(self.documents, keep) if k]
        self.metadatas = [meta for meta, k in zip(self.metadatas, keep) if k]
        mask = np.asarray(keep, dtype=bool)
        self.vectors, self.tasks = self.vectors[mask], self.tasks[mask]
        self._by_task.clear()
        self._rows = self._haystack = None

    def update_metadata(self, record_id: str, update: dict) -> None:
        """Apply a metadata update just written to the collection (outcome counters)."""
        row = self._row_of().get(record_id)
        if row is not None:
            self.metadatas[row].update(update)

    def _row_of(self) -> dict[str, int]:
        if self._rows is None:
            self._rows = {rid: i for i, rid in enumerate(self.ids)}
        return self._rows

    def vectors_of(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of rows ``ids``, in that order."""
        row_of = self._row_of()
        return self.vectors[[row_of[rid] for rid in ids]].reshape(len(ids), -1)

    def containing(self, needle: str, task: str | None = None) -> list[int]:
        """Row numbers of the records whose question, reason or guideline contains ``needle`` (case-folded),
        in row order: a full-text search with no Chroma call (the folded texts are built once and kept)."""
        if self._haystack is None:
            self._haystack = [f"{doc}\n{meta.get('reason', '')}\n{meta.get('guideline', '')}".casefold()
                              for doc, meta in zip(self.documents, self.metadatas)]
        needle = needle.casefold()
        rows = range(len(self.ids)) if task is None else (self._subset(task)[0] if len(self.ids) else [])
        hay = self._haystack
        return [int(i) for i in rows if needle in hay[i]]

    def row(self, i: int) -> tuple[str, str, dict]:
        """(id, document, metadata) of row ``i``."""
        return self.ids[i], self.documents[i], self.metadatas[i]

    def rows(self, hits: Sequence[Sequence[tuple[str, float]]]) -> list[list[tuple[str, str, dict, float]]]:
        """(id, document, metadata, distance) rows for the hits, from memory (a shared server's: :meth:`salam.memory.backend.ChromaBackend.rows`)."""
        row_of = self._row_of()
        return [[(rid, self.documents[row_of[rid]], self.metadatas[row_of[rid]], 1.0 - sim) for rid, sim in group]
                for group in hits]

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


def hits_from_rows(question: str, rows: list[Any], k: int, threshold: float, allow_self: bool) -> list[RetrievedMemory]:
    """The first ``k`` search rows ``(id, document, metadata, distance)`` at or above ``threshold``, as retrieved
    memories; unless ``allow_self``, none whose question is ``question`` (an exam must not see its own answer)."""
    own = question_key(question)
    own_text = question_stem(question)
    hits: list[RetrievedMemory] = []
    for rid, doc, meta, dist in rows:
        similarity = 1.0 - float(dist)
        if similarity < threshold:
            continue
        if not allow_self and (meta.get("question_key") == own or question_stem(doc) == own_text):
            continue
        hits.append(RetrievedMemory(record=from_chroma(rid, doc, meta), similarity=round(similarity, 6)))
        if len(hits) == k:
            break
    return hits
