"""The one class that talks to Chroma for the memory: collections, paging, get/add/query/update/delete.

Kept apart from :class:`salam.memory.store.MistakeMemory` (ids, dedupe, outcomes, prune, search), as
mem0 keeps its vector-store adapters apart from ``Memory``: the store never calls a collection itself,
so another vector store would be one more class with these methods. Embeddings are ours (normalised,
cosine space); clients, collection names and the folder marker live in :mod:`salam.memory.chroma`.
"""

from __future__ import annotations

import errno
import functools
from typing import Any, Callable, Iterator, Sequence, TypeVar

from salam.errors import StoreError
from salam.memory.chroma import collection_name, collection_names, parse_collection_name
from salam.types import MEMORY_SCHEMA_VERSION, RecordKind

F = TypeVar("F", bound=Callable[..., Any])


def _store_failure(exc: BaseException) -> StoreError | None:
    """The one-line error for a failure of the store itself (Chroma, its SQLite, the disk), else None."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    full = "disk is full" in text or "No space left" in text or getattr(exc, "errno", None) == errno.ENOSPC
    if full:
        return StoreError("the disk is full: the memory store could not write (what was written before is kept; "
                          "free some space and run the command again)")
    if type(exc).__module__.startswith(("chromadb", "sqlite3")) or isinstance(exc, OSError):
        return StoreError(f"the memory store failed: {text}")
    return None


def one_line_errors(method: F) -> F:
    """Turn a failure of Chroma, SQLite or the disk inside a backend call into a one-line StoreError."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - chromadb raises its own classes, sqlite3 and OSError below it
            failure = _store_failure(exc)
            if failure is None:
                raise
            raise failure from exc

    return call  # type: ignore[return-value]

Row = tuple[str, str, dict, float]
"""(id, document, metadata, cosine distance) of one search hit."""
PAGE = 1000
"""Records per ``get`` when reading a whole collection."""


class ChromaBackend:
    """Chroma collections of one store, one per (namespace, kind), made with the store's embedder metadata."""

    def __init__(self, client: Any, embedder_name: str, dim: int) -> None:
        self.client = client
        self._meta = {"embedder": embedder_name, "dim": int(dim), "schema_version": MEMORY_SCHEMA_VERSION}
        self._collections: dict[str, Any] = {}
        self.max_batch = max(1, min(int(client.get_max_batch_size()), 256))  # small batches: frequent durable commits

    @one_line_errors
    def collection(self, namespace: str, kind: RecordKind, create: bool = True) -> Any | None:
        """The collection of (namespace, kind); None when it does not exist and ``create`` is False."""
        name = collection_name(namespace, kind)
        if name not in self._collections:
            if create:
                col = self.client.get_or_create_collection(
                    name, metadata=self._meta, embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
            else:
                try:
                    col = self.client.get_collection(name, embedding_function=None)
                except Exception:  # chroma raises NotFoundError / ValueError depending on version
                    return None
            self._collections[name] = col
        return self._collections[name]

    def collections(self, namespace: str | None = None, kind: RecordKind | None = None) -> Iterator[tuple[str, RecordKind, Any]]:
        """(namespace, kind, collection) of salam's collections, sorted, optionally of one namespace or kind."""
        found = sorted(p for p in map(parse_collection_name, one_line_errors(lambda: list(collection_names(self.client)))()) if p)
        for ns, knd in found:
            if (namespace is None or ns == namespace) and (kind is None or knd == kind):
                yield ns, knd, self.collection(ns, knd)

    def forget(self) -> None:
        """Drop the cached collection handles (the store was closed)."""
        self._collections.clear()

    @staticmethod
    def pages(col: Any, include: list[str], where: dict | None = None, size: int = PAGE) -> Iterator[dict[str, Any]]:
        """A whole collection (or its ``where`` part) as successive ``get`` results: the one paging loop."""
        offset = 0
        while True:
            got = one_line_errors(col.get)(where=where, include=include, limit=size, offset=offset)
            yield got
            if len(got["ids"]) < size:
                return
            offset += size

    @staticmethod
    @one_line_errors
    def existing(col: Any, ids: Sequence[str]) -> set[str]:
        return set(col.get(ids=list(ids), include=[])["ids"]) if ids else set()

    @staticmethod
    @one_line_errors
    def add(col: Any, ids: Sequence[str], embeddings: Any, documents: Sequence[str], metadatas: Sequence[dict]) -> None:
        col.add(ids=list(ids), embeddings=embeddings, documents=list(documents), metadatas=list(metadatas))

    @staticmethod
    @one_line_errors
    def get(col: Any, ids: Sequence[str], include: Sequence[str] = ("documents", "metadatas")) -> dict[str, Any]:
        return col.get(ids=list(ids), include=list(include))

    @staticmethod
    @one_line_errors
    def update(col: Any, record_id: str, metadata: dict) -> None:
        col.update(ids=[record_id], metadatas=[metadata])

    @staticmethod
    @one_line_errors
    def update_many(col: Any, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        col.update(ids=list(ids), metadatas=list(metadatas))

    @staticmethod
    @one_line_errors
    def delete(col: Any, ids: Sequence[str]) -> None:
        col.delete(ids=list(ids))

    @staticmethod
    @one_line_errors
    def count(col: Any) -> int:
        return int(col.count())

    @staticmethod
    @one_line_errors
    def query(col: Any, vectors: Any, n_results: int, where: dict | None = None) -> list[list[Row]]:
        """Chroma's HNSW search, for collections too large to hold in memory."""
        got = col.query(query_embeddings=vectors, n_results=n_results, where=where,
                        include=["documents", "metadatas", "distances"])
        return [list(zip(*(got[key][qi] for key in ("ids", "documents", "metadatas", "distances"))))
                for qi in range(len(got["ids"]))]

    @staticmethod
    @one_line_errors
    def rows(col: Any, hits: Sequence[Sequence[tuple[str, float]]]) -> list[list[Row]]:
        """Rows for exact-search hits with one ``get`` for all of them (where other processes may write)."""
        wanted = list(dict.fromkeys(rid for group in hits for rid, _ in group))
        if not wanted:
            return [[] for _ in hits]
        got = col.get(ids=wanted, include=["documents", "metadatas"])
        found = {rid: (doc, meta) for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}
        return [[(rid, *found[rid], 1.0 - sim) for rid, sim in group if rid in found] for group in hits]
