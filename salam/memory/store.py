"""MistakeMemory: past mistakes and their feedback in Chroma, retrieved by question similarity.

The store keeps ids, dedupe, outcome counters, prune and search; every Chroma call goes through its
:class:`salam.memory.backend.ChromaBackend`, and clients and the folder marker live in
:mod:`salam.memory.chroma`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from salam._util.home import default_memory_dir
from salam.defaults import DEFAULT_RANK
from salam.errors import StoreError
from salam.memory.backend import ChromaBackend, Row
from salam.memory.chroma import choose_embedder, http_client, stored_embedder_from_collections
from salam.memory.codec import from_chroma, to_metadata
from salam.memory.embeddings import Embedder, QueryEmbeddingCache
from salam.memory.prune import PruneReport, check_prune_limits, plan_prune
from salam.memory.search import EXACT_MAX, ExactIndex, hits_from_rows
from salam.types import (
    MistakeRecord,
    RecordKind,
    RetrievedMemory,
    memory_outcome,
    now_utc,
)

OUTCOME_KEYS_KEPT = 64
"""Uses remembered per record for idempotent outcome counting (a resume replays at most a few)."""


class MistakeMemory:
    """The mistake memory. Open it with :meth:`open`; close it (or use ``with``) to release the lock."""

    def __init__(self, client: Any, embedder: Embedder, location: str, lock: Any = None, snapshot: Path | None = None) -> None:
        self.backend = ChromaBackend(client, embedder.name, embedder.dim)
        self._snapshot = snapshot
        self.read_only = snapshot is not None
        """A folder on a read-only file system is read from a temporary copy; writes are refused."""
        self.embedder = embedder
        self.queries = QueryEmbeddingCache(embedder)
        self.location = location
        self._lock = lock
        self._indexes: dict[str, ExactIndex] = {}

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        embedder: str | Embedder | None = None,
        create: bool = True,
        lock_timeout: float | None = None,
    ) -> "MistakeMemory":
        """Open an embedded store folder (default ``$SALAM_HOME/memory``) or a Chroma server at ``url``.

        ``lock_timeout``: seconds to wait for a folder another process holds (default ``SALAM_LOCK_TIMEOUT``).
        """
        from salam._util.quiet import quiet_libraries

        quiet_libraries()
        if url:
            client = http_client(url)
            location = url
            lock = None
            stored = stored_embedder_from_collections(client)
            chosen = choose_embedder(embedder, stored, location)
        else:
            from salam.memory.folder import open_folder

            folder = Path(path).expanduser() if path else default_memory_dir(create)
            opened = open_folder(folder, embedder, create, lock_timeout)
            client, chosen, lock, location = opened.client, opened.embedder, opened.lock, str(folder)
            return cls(client, chosen, location, lock, opened.snapshot)
        return cls(client, chosen, location, lock)

    def close(self) -> None:
        if self._lock is not None and self._lock.is_locked:
            self._lock.release()
        self.backend.forget()
        if self._snapshot is not None:
            import shutil

            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"memory {self.location} is on a read-only file system: it can be read, not changed "
                             "(copy it somewhere writable to change it)")

    def __enter__(self) -> "MistakeMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- collections --------------------------------------------------------------------------
    def namespaces(self) -> list[str]:
        return sorted({ns for ns, _, _ in self.backend.collections()})

    # -- writing ------------------------------------------------------------------------------
    def add(self, records: Sequence[MistakeRecord], on_commit: Any = None) -> int:
        """Add records in batches; records already present (same content id) are skipped. Returns how many were new.

        ``on_commit(n_done)`` is called after each batch is durable in the store.
        """
        self._writable()
        added = 0
        done = 0
        groups: dict[tuple[str, RecordKind], list[MistakeRecord]] = {}
        for record in records:
            groups.setdefault((record.namespace, record.kind), []).append(record)
        for (namespace, kind), group in groups.items():
            col = self.backend.collection(namespace, kind)
            size = self.backend.max_batch
            for start in range(0, len(group), size):
                batch = list({r.id: r for r in group[start : start + size]}.values())
                existing = self.backend.existing(col, [r.id for r in batch])
                fresh = [r for r in batch if r.id not in existing]
                if fresh:
                    vectors = self.embedder.embed([r.question for r in fresh])
                    documents, metadatas = [r.question for r in fresh], [to_metadata(r) for r in fresh]
                    self.backend.add(col, [r.id for r in fresh], vectors, documents, metadatas)
                    if col.name in self._indexes:
                        self._indexes[col.name].extend([r.id for r in fresh], vectors, documents, metadatas)
                    added += len(fresh)
                done += len(group[start : start + size])
                if on_commit is not None:
                    on_commit(done)
        return added

    def record_outcome(self, ids: Iterable[str], correct: bool, baseline_correct: bool | None = None,
                       key: str | None = None) -> None:
        """Count that these memories were used, and whether they helped or hurt (:func:`memory_outcome`).

        With a ``key`` (one per use: run, condition, question) the count is idempotent: each record keeps
        the keys of its last uses in the same metadata update as its counters, so a use replayed after
        a crash is recognised and not counted again.
        """
        if self.read_only:  # a read-only memory answers questions; its counters cannot change
            return
        outcome = memory_outcome(correct, baseline_correct)
        wanted = list(dict.fromkeys(ids))
        for _, _, col in self.backend.collections():
            if not wanted:
                break
            got = self.backend.get(col, wanted, ["metadatas"])
            for rid, meta in zip(got["ids"], got["metadatas"]):
                keys = json.loads(meta.get("outcome_keys") or "[]")
                if key is not None and key in keys:
                    continue
                update = {"retrieved": int(meta.get("retrieved", 0)) + 1, "last_retrieved": now_utc().isoformat()}
                if outcome is not None:
                    update[outcome] = int(meta.get(outcome, 0)) + 1
                if key is not None:
                    update["outcome_keys"] = json.dumps((keys + [key])[-OUTCOME_KEYS_KEPT:])
                self.backend.update(col, rid, update)
                if col.name in self._indexes:
                    self._indexes[col.name].update_metadata(rid, update)
            found = set(got["ids"])
            wanted = [i for i in wanted if i not in found]

    def rewrite(self, records: Sequence[MistakeRecord]) -> int:
        """Store each record's fields (guideline, counters, merged ids...) over the stored record with its id; questions
        and embeddings stay. Returns how many existed (the others are left out)."""
        self._writable()
        done = 0
        groups: dict[tuple[str, RecordKind], list[MistakeRecord]] = {}
        for record in records:
            groups.setdefault((record.namespace, record.kind), []).append(record)
        for (namespace, kind), group in groups.items():
            col = self.backend.collection(namespace, kind, create=False)
            for start in range(0, len(group) if col is not None else 0, self.backend.max_batch):
                batch = group[start : start + self.backend.max_batch]
                present = self.backend.existing(col, [r.id for r in batch])
                batch = [r for r in batch if r.id in present]
                if batch:
                    metas = [to_metadata(r) for r in batch]
                    self.backend.update_many(col, [r.id for r in batch], metas)
                    for r, meta in zip(batch, metas):
                        if col.name in self._indexes:
                            self._indexes[col.name].update_metadata(r.id, meta)
                    done += len(batch)
        return done

    def delete(self, ids: Sequence[str]) -> int:
        """Delete records by id, in any namespace; returns how many existed."""
        self._writable()
        removed = 0
        wanted = set(ids)
        for _, _, col in self.backend.collections():
            if not wanted:
                break  # Chroma rejects a get with no ids
            found = list(self.backend.existing(col, list(wanted)))
            if found:
                self.backend.delete(col, found)
                if col.name in self._indexes:
                    self._indexes[col.name].remove(found)
                removed += len(found)
                wanted -= set(found)
        return removed

    def prune(
        self,
        *,
        margin: int | None = 2,
        max_age_days: float | None = None,
        max_count: int | None = None,
        namespace: str | None = None,
        dry_run: bool = False,
    ) -> PruneReport:
        """Remove records that hurt more than they helped (by ``margin``), older than an age, or beyond a count.

        The count limit keeps the newest records of each namespace and kind (mistakes and solved cases
        are counted apart). Helped and hurt are :func:`salam.types.memory_outcome`'s.
        """
        check_prune_limits(margin, max_age_days, max_count)
        doomed: dict[str, str] = {}
        for ns in [namespace] if namespace else self.namespaces():
            doomed.update(plan_prune(list(self.iter_records(namespace=ns)), margin, max_age_days, max_count))
        if doomed and not dry_run:
            self.delete(list(doomed))  # refused on a read-only memory
        reasons = list(doomed.values())
        return PruneReport(len(doomed), reasons.count("outcome"), reasons.count("age"), reasons.count("count"))

    # -- reading ------------------------------------------------------------------------------
    def get(self, record_id: str) -> MistakeRecord | None:
        found = self.get_many([record_id])
        return found[0] if found else None

    def get_many(self, ids: Sequence[str]) -> list[MistakeRecord]:
        if not ids:
            return []
        out: dict[str, MistakeRecord] = {}
        for _, _, col in self.backend.collections():
            got = self.backend.get(col, ids)
            for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                out[rid] = from_chroma(rid, doc, meta)
        return [out[i] for i in ids if i in out]

    def iter_records(
        self,
        namespace: str | None = None,
        task: str | None = None,
        source: str | None = None,
        kind: RecordKind | None = None,
        page_size: int = 1000,
    ) -> Iterator[MistakeRecord]:
        """All matching records, namespace by namespace, oldest batch first."""
        where = {k: v for k, v in {"task": task, "source": source}.items() if v}
        where_arg: Any = None
        if len(where) == 1:
            where_arg = where
        elif where:
            where_arg = {"$and": [{k: v} for k, v in where.items()]}
        for _, _, col in self.backend.collections(namespace or None, kind or None):
            for got in self.backend.pages(col, ["documents", "metadatas"], where_arg, page_size):
                for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"]):
                    yield from_chroma(rid, doc, meta)

    def find_text(self, text: str, namespace: str | None = None, task: str | None = None,
                  kind: RecordKind | None = None, offset: int = 0, limit: int | None = None) -> tuple[int, list[MistakeRecord]]:
        """(how many records match, the records from ``offset``, at most ``limit``): those whose question,
        reason or guideline contains ``text`` (case-insensitive; "" matches all).

        A folder this process holds is searched in its in-memory index, and only the returned page is
        turned into records; otherwise records are read in pages from Chroma.
        """
        needle = text.casefold()
        found: list[Any] = []  # (index, row) or a record
        for ns, knd, col in self.backend.collections(namespace or None, kind or None):
            index = self._exact_index(col, self._size(col)) if self._owns_folder() else None
            if index is not None:
                found += [(index, i) for i in index.containing(text, task)]
            else:
                found += [r for r in self.iter_records(namespace=ns, task=task, kind=knd)
                          if needle in f"{r.question}\n{r.reason}\n{r.guideline}".casefold()]
        page = found[offset : None if limit is None else offset + limit]
        return len(found), [item if isinstance(item, MistakeRecord) else from_chroma(*item[0].row(item[1])) for item in page]

    def count(self, namespace: str | None = None, kind: RecordKind | None = None) -> int:
        return sum(self.backend.count(col) for _, _, col in self.backend.collections(namespace or None, kind or None))

    def similar(
        self,
        question: str,
        k: int = 3,
        threshold: float = 0.0,
        namespace: str = "default",
        task: str | None = None,
        kind: RecordKind = "mistake",
        allow_self: bool = False,
        rank: str = DEFAULT_RANK,
    ) -> list[RetrievedMemory]:
        """The ``k`` records most similar to ``question`` (cosine >= threshold), highest first (``rank``: see
        :meth:`similar_many`).

        Never crosses namespaces; by default never returns a record whose question *is* the query,
        which in an exam would hand the model its own answer.
        """
        return self.similar_many([question], k, threshold, namespace, task, kind, allow_self, rank)[0]

    def similar_many(
        self,
        questions: Sequence[str],
        k: int = 3,
        threshold: float = 0.0,
        namespace: str = "default",
        task: str | Sequence[str | None] | None = None,
        kind: RecordKind = "mistake",
        allow_self: bool = False,
        rank: str = DEFAULT_RANK,
    ) -> list[list[RetrievedMemory]]:
        """:meth:`similar` for many questions with one embedding call and one search per task.

        ``task`` is one task for all questions or one per question (``None``: any task). ``rank`` is
        ``distinct`` (the default, :data:`salam.defaults.DEFAULT_RANK`), ``similarity`` (the paper's), ``useful`` (:mod:`salam.memory.usefulness`: among the 3k most similar,
        similarity plus evidence of help minus evidence of harm) or ``distinct`` (:mod:`salam.memory.distinct`:
        by similarity among the 3k most similar, skipping near-copies of a record already taken).
        """
        from salam.memory.usefulness import RANKS, rank_hits

        if rank not in RANKS:
            raise StoreError(f"--rank must be {', '.join(RANKS[:-1])} or {RANKS[-1]}, not {rank!r}")
        pool = k if rank == "similarity" else k * 3
        if not questions:
            return []
        col = self.backend.collection(namespace, kind, create=False)
        if col is None or k <= 0:
            return [[] for _ in questions]
        size = self._size(col)
        if size == 0:
            return [[] for _ in questions]
        tasks = [task] * len(questions) if task is None or isinstance(task, str) else list(task)
        vectors = self.queries.embed(list(questions))
        # Over-fetch a little so that dropping the query's own record still leaves k results; one
        # search per task.
        n_results = min(size, pool + (0 if allow_self else 4))
        groups: dict[str | None, list[int]] = {}
        for qi, one_task in enumerate(tasks):
            groups.setdefault(one_task, []).append(qi)
        rows: list[list[Row]] = [[] for _ in questions]
        index = self._exact_index(col, size)
        for one_task, indices in groups.items():
            if index is not None:
                hits = index.top(vectors[indices], n_results, one_task)
                found = index.rows(hits) if self._owns_folder() else self.backend.rows(col, hits)
            else:
                found = self.backend.query(col, vectors[indices], n_results, where={"task": one_task} if one_task else None)
            for qi, got in zip(indices, found):
                rows[qi] = got
        hits = [hits_from_rows(q, rows[qi], pool, threshold, allow_self) for qi, q in enumerate(questions)]
        if rank == "distinct":
            from salam.memory.distinct import without_near_copies

            return [without_near_copies(found, self._vectors_of(found, index), k) if found else [] for found in hits]
        return [rank_hits(found, rank, k) for found in hits]

    def _vectors_of(self, hits: Sequence[RetrievedMemory], index: ExactIndex | None) -> np.ndarray:
        """The stored vectors of ``hits`` (from the exact index; a collection too large for it re-embeds the questions)."""
        if index is not None:
            return index.vectors_of([h.record.id for h in hits])
        return np.asarray(self.embedder.embed([h.record.question for h in hits]), dtype=np.float32)

    def _size(self, col: Any) -> int:
        """The collection's record count: the only writer (this process holds the folder's lock) keeps its
        index in step, so it needs no count call."""
        if col.name in self._indexes and self._owns_folder():
            return len(self._indexes[col.name])
        return self.backend.count(col)

    def _owns_folder(self) -> bool:
        """True for an embedded folder this process has locked: nobody else can write it."""
        return self._lock is not None and self._lock.is_locked

    def _exact_index(self, col: Any, size: int) -> ExactIndex | None:
        """The collection's in-memory index (see :mod:`salam.memory.search`), reloaded when its count changed."""
        if size > EXACT_MAX:
            return None
        index = self._indexes.get(col.name)
        if index is None or len(index) != size:
            index = self._indexes[col.name] = ExactIndex.from_pages(self.backend.pages(col, ["embeddings", "documents", "metadatas"], size=5000))
        return index

    def stats(self) -> dict[str, Any]:
        """Counts by namespace, kind, task and source, outcome totals, merged and harmful records."""
        from salam.memory.report import memory_stats

        return memory_stats(self)
