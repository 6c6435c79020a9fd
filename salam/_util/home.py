"""Where salam keeps its caches and default memory: ``$SALAM_HOME`` or a per-user data dir."""

from __future__ import annotations

import os
from pathlib import Path


def salam_home() -> Path:
    """The salam home directory (created on first use)."""
    env = os.environ.get("SALAM_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        from platformdirs import user_data_dir

        home = Path(user_data_dir("salam", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_cache_dir() -> Path:
    """Converted local models, one folder per source-file hash."""
    return salam_home() / "models"


def default_memory_dir() -> Path:
    """The embedded mistake memory used when no ``--memory`` is given."""
    return salam_home() / "memory"
