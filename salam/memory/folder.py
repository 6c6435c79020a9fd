"""The embedded memory folder: its marker, lock, and creation that a crash cannot leave half-done.

A folder is ``salam.json`` (the marker: format, embedder, dimension, schema version, ``complete``),
``chroma/`` (Chroma's files) and ``.salam.lock``. Creation happens under the lock and in this order:
load the embedder (a bad ``--embedder`` writes nothing), write the marker with ``complete: false``,
create the Chroma store, rewrite the marker with ``complete: true``. A folder found half-made — an
incomplete marker, or ``chroma/`` without a marker (a crash of salam 0.1's creation) — is completed
instead of being refused forever.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salam._util.jsonl import write_json_atomic
from salam.errors import StoreError
from salam.memory.chroma import choose_embedder, persistent_client, stored_embedder_from_collections
from salam.memory.embeddings import Embedder
from salam.types import MEMORY_SCHEMA_VERSION

MARKER = "salam.json"
_OURS = {".salam.lock", MARKER, f".{MARKER}.tmp", "chroma"}


@dataclass
class OpenedFolder:
    """What opening a folder gives the memory: a Chroma client, the embedder, the held lock."""

    client: Any
    embedder: Embedder
    lock: Any
    snapshot: Path | None = None
    """A read-only folder is opened from a temporary copy (Chroma writes even to read): the copy's folder."""


def _read_marker(folder: Path) -> dict[str, Any] | None:
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text())
        if not isinstance(info, dict) or "embedder" not in info:
            raise ValueError("missing embedder")
    except (ValueError, OSError) as exc:
        raise StoreError(f"memory {folder} is corrupted: unreadable {MARKER} ({exc})") from exc
    if int(info.get("schema_version", 0)) > MEMORY_SCHEMA_VERSION:
        raise StoreError(
            f"memory {folder} has schema version {info['schema_version']}, newer than this salam "
            f"({MEMORY_SCHEMA_VERSION}): upgrade salam"
        )
    return info


def _write_marker(folder: Path, embedder: Embedder, complete: bool) -> None:
    write_json_atomic(folder / MARKER, {"format": "salam-memory", "embedder": embedder.name, "dim": int(embedder.dim),
                                        "schema_version": MEMORY_SCHEMA_VERSION, "complete": complete})


def _check_chroma_files(folder: Path) -> None:
    """Refuse a Chroma store whose database file is empty (Chroma would open it as an empty memory)."""
    database = folder / "chroma" / "chroma.sqlite3"
    if database.exists() and database.stat().st_size == 0:
        raise StoreError(f"memory {folder} is corrupted: {database} is empty (0 bytes); restore it from a backup or export")


def _client(folder: Path) -> Any:
    try:
        return persistent_client(folder)
    except Exception as exc:
        raise StoreError(f"cannot open memory {folder}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


def open_folder(folder: Path, embedder: str | Embedder | None, create: bool, lock_timeout: float | None = None) -> OpenedFolder:
    """Lock ``folder`` and open (creating or completing it if needed) its Chroma store."""
    from salam.memory.lock import acquire_store_lock

    if folder.exists() and not folder.is_dir():
        raise StoreError(f"not a salam memory folder (it is a file): {folder}")
    if not folder.exists() and not create:
        raise StoreError(f"no memory at {folder}: import or gather first, or pass --memory")
    if folder.is_dir() and is_read_only(folder):
        return _open_snapshot(folder, embedder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = acquire_store_lock(folder, lock_timeout)
    try:
        return OpenedFolder(*_open_locked(folder, embedder, create), lock)
    except BaseException:
        lock.release()
        raise


def is_read_only(folder: Path) -> bool:
    """True for a folder on a read-only file system, or one this process may not write."""
    import os

    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except OSError:
        return False


def _open_snapshot(folder: Path, embedder: str | Embedder | None) -> OpenedFolder:
    """A read-only memory opened from a temporary copy: it can be read, never written (the store refuses)."""
    import shutil
    import tempfile

    if _read_marker(folder) is None:
        raise StoreError(f"memory {folder} is read-only and holds no complete salam memory")
    copy = Path(tempfile.mkdtemp(prefix="salam-read-only-")) / "memory"
    try:
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(".salam.lock"))
        client, chosen = _open_locked(copy, embedder, create=False)
    except BaseException:
        shutil.rmtree(copy.parent, ignore_errors=True)
        raise
    return OpenedFolder(client, chosen, None, snapshot=copy.parent)


def _open_locked(folder: Path, requested: str | Embedder | None, create: bool) -> tuple[Any, Embedder]:
    info = _read_marker(folder)
    entries = {p.name for p in folder.iterdir()}
    has_chroma = (folder / "chroma").is_dir()
    if info is not None and info.get("complete", True):
        if not has_chroma:
            raise StoreError(f"memory {folder} is corrupted: its chroma/ folder is missing")
        _check_chroma_files(folder)
        chosen = choose_embedder(requested, info, str(folder))
        return _client(folder), chosen
    if entries - _OURS:
        raise StoreError(f"not a salam memory folder (no {MARKER}, not empty): {folder}")
    if info is None and not has_chroma and not create:
        raise StoreError(f"no memory at {folder}: import or gather first, or pass --memory")
    # New, or half-made by a crash: finish creating it.
    stored = info
    client = None
    if has_chroma:
        _check_chroma_files(folder)
        client = _client(folder)
        stored = stored_embedder_from_collections(client) or info
    chosen = choose_embedder(requested, stored, str(folder))
    _write_marker(folder, chosen, complete=False)
    client = client or _client(folder)
    _write_marker(folder, chosen, complete=True)
    return client, chosen
