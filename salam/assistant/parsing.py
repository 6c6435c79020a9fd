"""Parse a study assistant's reply into (reason, guideline), whatever shape it came in.

Accepts plain JSON, JSON inside a ``` fence, JSON continued from a prompt that already opened it,
and ``reason:`` / ``guideline:`` lines. Hand-written: models break JSON in many small ways.
"""

from __future__ import annotations

import json
import re

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_KEY_VALUE = re.compile(r'"?(reason|guideline)"?\s*:\s*"((?:[^"\\]|\\.)*)"?', re.IGNORECASE | re.DOTALL)
_LINE = re.compile(r"\b(reason|guideline)\**\s*[:=]\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _first_object(text: str) -> dict | None:
    start = text.find("{")
    while start != -1:
        depth, in_str, escape = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if escape:
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(text[start : i + 1])
                    except ValueError:
                        break
                    return value if isinstance(value, dict) else None
        start = text.find("{", start + 1)
    return None


_SENTENCE = re.compile(r"(?<=[.!?])\s+")
MAX_SENTENCES = 3


def _clean(value: object) -> str:
    """One line, repeated sentences dropped, at most MAX_SENTENCES: small models loop and ramble."""
    text = " ".join(str(value).split()).strip().strip('"').strip()
    kept: list[str] = []
    for sentence in _SENTENCE.split(text):
        if sentence and sentence.lower() not in (s.lower() for s in kept):
            kept.append(sentence)
    return " ".join(kept[:MAX_SENTENCES])


def plausible_guideline(text: str) -> bool:
    """At least two words of letters and no JSON debris: a key with a brace for a value is no guideline."""
    words = re.findall(r"[A-Za-z]{2,}", text)
    return len(words) >= 2 and not text.lstrip().startswith(("{", "[", "`"))


def parse_feedback(raw: str, prefix: str = "") -> tuple[str, str] | None:
    """``(reason, guideline)`` from a reply, or None when no guideline can be found.

    ``prefix`` is the text the prompt already wrote (e.g. ``{"reason": "``), tried in front of the reply.
    """
    candidates = [raw]
    if prefix:
        candidates.append(prefix + raw)
    for text in candidates:
        for chunk in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
            obj = _first_object(chunk)
            if obj and obj.get("guideline") and plausible_guideline(_clean(obj["guideline"])):
                return _clean(obj.get("reason", "")), _clean(obj["guideline"])
    for text in candidates:
        found = {m.group(1).lower(): _clean(m.group(2)) for m in _KEY_VALUE.finditer(text)}
        if found.get("guideline") and plausible_guideline(found["guideline"]):
            return found.get("reason", ""), found["guideline"]
        lines = {m.group(1).lower(): _clean(m.group(2)) for m in _LINE.finditer(text)}
        if lines.get("guideline") and plausible_guideline(lines["guideline"]):
            return lines.get("reason", ""), lines["guideline"]
    return None
