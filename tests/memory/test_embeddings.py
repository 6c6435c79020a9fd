"""The query-embedding cache."""

from __future__ import annotations


def test_query_embeddings_are_cached_and_bounded():
    from salam.memory.embeddings import QueryEmbeddingCache
    from salam.testing import HashEmbedder

    calls: list[list[str]] = []

    class Counting(HashEmbedder):
        def embed(self, texts):
            calls.append(list(texts))
            return super().embed(texts)

    inner = Counting()
    cache = QueryEmbeddingCache(inner, maxsize=2)
    first = cache.embed(["a b", "c d", "a b"])
    again = cache.embed(["c d", "a b"])
    assert calls == [["a b", "c d"]]
    assert (again[0] == first[1]).all() and (again[1] == first[0]).all()
    assert (first == inner.embed(["a b", "c d", "a b"])).all()
    cache.embed(["e f"])  # evicts the least recently used ("c d")
    cache.embed(["c d"])
    assert calls[-2:] == [["e f"], ["c d"]]
