"""An exclusive, process-lifetime lock on an embedded store folder.

Chroma's PersistentClient is not safe for several writing processes, and a second process
would not see the first one's in-memory index either, so one process owns a folder at a time.
The OS drops the lock when its holder dies, so a killed run never leaves the store locked.
"""

from __future__ import annotations

import os
from pathlib import Path

from filelock import FileLock, Timeout

from salam.errors import StoreError

LOCK_NAME = ".salam.lock"


def acquire_store_lock(folder: Path, timeout: float | None = None) -> FileLock:
    """Wait up to ``timeout`` seconds (``SALAM_LOCK_TIMEOUT``, default 60) for the folder's lock."""
    if timeout is None:
        raw = os.environ.get("SALAM_LOCK_TIMEOUT", "60")
        try:
            timeout = float(raw)
        except ValueError:
            raise StoreError(f"SALAM_LOCK_TIMEOUT must be a number of seconds, not {raw!r}") from None
        if not timeout >= 0:  # also refuses nan
            raise StoreError(f"SALAM_LOCK_TIMEOUT must be a number of seconds, not {raw!r}")
    # Not thread-local: the lock belongs to the open memory, which a server (salam view) uses from several
    # threads; a thread-local lock would look unheld there and could not be released at shutdown.
    lock = FileLock(str(folder / LOCK_NAME), timeout=timeout, thread_local=False)
    try:
        lock.acquire()
    except Timeout as exc:
        raise StoreError(
            f"memory {folder} is in use by another process (waited {timeout:g}s); "
            "wait for it, or share one Chroma server with --chroma-url"
        ) from exc
    except OSError as exc:  # a read-only folder or file system: the lock file cannot be made
        raise StoreError(f"cannot lock memory {folder}: {exc.strerror or type(exc).__name__} (is it read-only? "
                         "serve it from a Chroma server with --chroma-url, or copy it somewhere writable)") from None
    return lock
