"""Exact search: the true top-k, filtered by task, kept in step with adds and deletes."""

from __future__ import annotations

import numpy as np
from helpers import rec

from salam.memory.search import ExactIndex


def _unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_top_is_the_exact_top_k_with_and_without_a_task():
    vectors, queries = _unit(500), _unit(7, seed=1)
    tasks = np.asarray(["rare" if i % 50 == 0 else "common" for i in range(500)])
    index = ExactIndex([f"id{i}" for i in range(500)], vectors, tasks)
    scores = queries @ vectors.T
    for qi, found in enumerate(index.top(queries, 3)):
        assert [rid for rid, _ in found] == [f"id{i}" for i in np.argsort(-scores[qi])[:3]]
    rare = np.flatnonzero(tasks == "rare")
    for qi, found in enumerate(index.top(queries, 3, task="rare")):
        assert [rid for rid, _ in found] == [f"id{rare[i]}" for i in np.argsort(-scores[qi, rare])[:3]]
    assert index.top(queries, 3, task="absent") == [[] for _ in range(7)]


def test_adds_and_deletes_show_at_once(store):
    first = rec("apples and pears at the market")
    store.add([first])
    assert store.similar("apples and pears at the market today", threshold=0.3)[0].record.id == first.id
    second = rec("apples and pears at the big market")
    store.delete([first.id])
    store.add([second])  # the count is the same as before: the index must still change
    hits = store.similar("apples and pears at the market today", threshold=0.3)
    assert [h.record.id for h in hits] == [second.id]


def test_an_owned_folder_answers_from_memory_with_counters_in_step(tmp_path, hash_embedder, monkeypatch):
    """The process that holds an embedded folder's lock is its only writer: queries make no Chroma call."""
    from salam.memory import MistakeMemory

    with MistakeMemory.open(tmp_path / "memory", embedder=hash_embedder) as mem:
        first = rec("apples and pears at the market")
        mem.add([first, rec("a train leaves the station at noon")])
        mem.similar("apples and pears at the market today")  # builds the index
        mem.record_outcome([first.id], correct=True, baseline_correct=False)
        col = mem.backend.collection("default", "mistake", create=False)

        def no_call(*args, **kwargs):
            raise AssertionError("the query path called Chroma")

        for name in ("get", "count", "query"):
            monkeypatch.setattr(type(col), name, no_call)
        hits = mem.similar("apples and pears at the market today", threshold=0.3)
    assert [h.record.id for h in hits] == [first.id]
    assert (hits[0].record.retrieved, hits[0].record.helped) == (1, 1)


def test_full_text_search_finds_question_reason_and_guideline_text(store):
    first = rec("apples and pears at the market", guideline="Count the Fruit twice")
    store.add([first, rec("a train leaves the station at noon", task="trains")])
    assert [r.id for r in store.find_text("PEARS")[1]] == [first.id]
    assert store.find_text("fruit") == (1, store.find_text("fruit")[1]) and store.find_text("fruit")[1][0].id == first.id
    assert store.find_text("fruit", task="trains") == (0, []) and store.find_text("a")[0] == 2
    total, page = store.find_text("", offset=1, limit=5)
    assert total == 2 and len(page) == 1


def test_the_owner_answers_from_memory_in_any_thread(tmp_path, hash_embedder, monkeypatch):
    """A server uses the open memory from worker threads: ownership (no Chroma call) holds there too."""
    import threading

    from salam.memory import MistakeMemory

    with MistakeMemory.open(tmp_path / "memory", embedder=hash_embedder) as mem:
        mem.add([rec("apples and pears at the market")])
        mem.similar("apples")
        seen = {}
        thread = threading.Thread(target=lambda: seen.update(owned=mem._owns_folder(), found=mem.find_text("pears")[0]))
        thread.start()
        thread.join()
    assert seen == {"owned": True, "found": 1}
