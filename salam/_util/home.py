"""Where salam keeps its caches and default memory: ``$SALAM_HOME`` or a per-user data dir."""

from __future__ import annotations

import os
from pathlib import Path


def salam_home(create: bool = True) -> Path:
    """The salam home directory, created on first use (``create``): a home that cannot be created or
    written is a one-line error then, and only then, so commands that never write there still run."""
    env = os.environ.get("SALAM_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        from platformdirs import user_data_dir

        home = Path(user_data_dir("salam", appauthor=False))
    if create:
        try:
            home.mkdir(parents=True, exist_ok=True)
            if not os.access(home, os.W_OK):
                raise PermissionError(13, "permission denied")
        except OSError as exc:
            from salam.errors import SalamError

            raise SalamError(f"cannot use SALAM_HOME {home}: {exc.strerror or type(exc).__name__}; "
                             "set SALAM_HOME to a writable folder") from None
    return home


def models_cache_dir() -> Path:
    """Converted local models, one folder per source-file hash."""
    return salam_home() / "models"


def default_memory_dir(create: bool = True) -> Path:
    """The embedded mistake memory used when no ``--memory`` is given."""
    return salam_home(create) / "memory"
