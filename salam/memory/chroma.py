"""The Chroma side of the memory: clients, collection names, and which embedder a store was built with.

Layout: one Chroma collection per (kind, namespace), so a query never filters across namespaces
and never pays for records it cannot return. The embedder's name, dimension and the schema
version live in every collection's metadata and in ``salam.json`` beside an embedded store.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

from salam.errors import StoreError
from salam.memory.embeddings import DEFAULT_EMBEDDER, Embedder, get_embedder
from salam.types import RecordKind

_PREFIX = "salam"
_NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,60}$")
KINDS: tuple[RecordKind, ...] = ("mistake", "solved")


def check_namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace or ""):
        raise StoreError(f"bad namespace {namespace!r}: use letters, digits, '.', '_' or '-' (at most 61)")
    return namespace


def collection_name(namespace: str, kind: RecordKind) -> str:
    return f"{_PREFIX}-{kind}-{check_namespace(namespace)}"


def parse_collection_name(name: str) -> tuple[str, RecordKind] | None:
    """(namespace, kind) of one of salam's collections, None for anything else."""
    parts = name.split("-", 2)
    if len(parts) == 3 and parts[0] == _PREFIX and parts[1] in KINDS:
        return parts[2], parts[1]  # type: ignore[return-value]
    return None


def collection_names(client: Any) -> Iterator[str]:
    for col in client.list_collections():
        yield col.name if hasattr(col, "name") else str(col)


def settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def persistent_client(folder: Path):
    import chromadb

    return chromadb.PersistentClient(path=str(folder / "chroma"), settings=settings())


def http_client(url: str):
    import chromadb

    parsed = urlparse(url if "://" in url else f"http://{url}")
    if not parsed.hostname:
        raise StoreError(f"bad Chroma URL {url!r}: use http://HOST:PORT")
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname, port=parsed.port or 8000, ssl=parsed.scheme == "https", settings=settings()
        )
        client.heartbeat()
    except Exception as exc:
        raise StoreError(f"cannot reach Chroma server at {url}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return client


def stored_embedder_from_collections(client: Any) -> dict[str, Any] | None:
    for col in client.list_collections():
        name = col.name if hasattr(col, "name") else str(col)
        if name.startswith(f"{_PREFIX}-"):
            meta = client.get_collection(name, embedding_function=None).metadata or {}
            if "embedder" in meta:
                return meta
    return None


def choose_embedder(requested: str | Embedder | None, stored: dict[str, Any] | None, location: str) -> Embedder:
    """The embedder to use: the requested one, else the stored one, else the default; refuse a mismatch.

    The embedder is loaded here, before anything is written, so a bad ``--embedder`` leaves no trace.
    """
    if requested is None:
        requested = stored["embedder"] if stored else DEFAULT_EMBEDDER
    embedder = get_embedder(requested) if isinstance(requested, str) else requested
    try:
        int(embedder.dim)
    except StoreError:
        raise
    except Exception as exc:  # sentence-transformers raises OSError, ValueError, HF errors...
        raise StoreError(f"cannot load embedder {getattr(embedder, 'name', requested)!r}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    if stored and stored.get("embedder") != embedder.name:
        raise StoreError(
            f"memory {location} was built with embedder {stored['embedder']!r} (dim {stored.get('dim')}), "
            f"not {embedder.name!r}: open it with --embedder {stored['embedder']} or use another folder"
        )
    if stored and stored.get("dim") and int(stored["dim"]) != int(embedder.dim):
        raise StoreError(f"memory {location} has dimension {stored['dim']}, embedder {embedder.name!r} gives {embedder.dim}")
    return embedder
