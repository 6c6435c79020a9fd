"""Stored text shown to a person: never read as terminal control codes, Rich markup, or Markdown/HTML."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls (0x80-0x9f, e.g. CSI 0x9b), and whole ESC/OSC sequences.
_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b.?|[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
_MARKDOWN = re.compile(r"([\\`*_\[\]|#])")


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (tabs and newlines stay)."""
    return _ESCAPES.sub("", text)


def terminal(text: str) -> str:
    """``text`` safe for a Rich console: no control codes, and ``[...]`` shown as written, not as markup."""
    from rich.markup import escape

    return escape(printable(text))


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown inline text (also inside a table cell): no code spans, links or HTML."""
    flat = " ".join(printable(str(text)).split())
    return _MARKDOWN.sub(r"\\\1", flat).replace("<", "&lt;").replace(">", "&gt;")
