"""Durable JSONL appends that survive a crash mid-write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def append_jsonl(path: Path, lines: Iterable[str]) -> None:
    """Append lines and fsync; first end a torn last line (a crash mid-write) so it cannot swallow ours."""
    torn = False
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            torn = fh.read(1) != b"\n"
    with path.open("a", encoding="utf-8") as fh:
        if torn:
            fh.write("\n")
        for line in lines:
            fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
