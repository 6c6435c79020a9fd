"""JSON and JSONL files that survive a crash: fsynced appends, tolerant reads, atomic replaces.

Every salam file format (run folders, training folders, transcripts, exports) writes through these,
so a killed process leaves either the old file or the new one, and at worst one torn JSONL line
that readers skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator


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


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, skipping lines that do not parse (a torn line from a kill)."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                yield value


def read_jsonl_strict(path: Path, what: str, text: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``path:N``, object) for each non-empty line of a JSONL file a user gave, where every line must be a
    JSON object: an unreadable file or a bad line is a one-line :class:`DataError` naming the line and ``what``
    it should be. ``text``: the file's contents when the caller has read (and checked) them already."""
    from salam.errors import DataError, data_shape

    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        with data_shape(where, what):
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError(f"a JSON {type(value).__name__}, not an object")
        yield where, value


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling, fsync it, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as indented JSON, replacing ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file's value, or ``default`` when the file does not exist."""
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8"))
