"""Load prompt templates from the installed wheel (salam/_assets) or from a checkout (prompts/)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # salam/


def _candidate_dirs() -> list[Path]:
    return [_PACKAGE_DIR / "_assets", _PACKAGE_DIR.parent / "prompts"]


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    """Return the text of ``prompts/<name>.txt``; the one way salam reads a template.

    The file's final newline is dropped: a prompt that ends ``Answer: (`` must not end ``Answer: (\\n``.
    """
    for folder in _candidate_dirs():
        path = folder / f"{name}.txt"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return text[:-1] if text.endswith("\n") else text
    raise FileNotFoundError(f"prompt template {name!r} not found in {', '.join(map(str, _candidate_dirs()))}")
