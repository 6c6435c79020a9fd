"""The package version and what every manifest starts with (version, git sha, time): the bottom floor,
so that run folders, training folders and the package face read one copy."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

__version__ = "0.1.0"


def git_sha() -> str:
    """The checkout's commit, or ``unknown`` outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict[str, str]:
    """What every manifest starts with: salam version, git sha, creation time (UTC)."""
    return {"salam_version": __version__, "git_sha": git_sha(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
