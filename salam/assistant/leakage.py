"""The leakage guard: a guideline must not hand over the answer it was written for."""

from __future__ import annotations

import re

from salam.types import Question

_REDACTED = "[the right option]"


def _letter_patterns(letter: str) -> list[str]:
    return [
        rf"\({letter}\)",
        rf"\b(?i:answer|option|choice|choose|select|pick|letter)\s*(?i:is|would be|should be|:)?\s*\(?{letter}\b\)?",
        rf"\b{letter}\)?\s+(?i:is)\s+(?i:the\s+)?(?i:correct|right)\b",
    ]


def _text_pattern(text: str, min_length: int = 3) -> str | None:
    words = text.strip().strip(".").strip()
    if len(words) < min_length:
        return None
    return r"(?i)(?<![\w])" + re.escape(words) + r"(?![\w])"


def leak_patterns(question: Question) -> list[str]:
    """Regexes that reveal ``question``'s true answer; option text only counts when it singles the answer out."""
    answer = question.answer.strip("() ")
    patterns: list[str] = []
    if question.is_multiple_choice and answer in question.letters:
        patterns += _letter_patterns(answer)
        true_text = question.option_text(answer)
        others = [o for letter, o in zip(question.letters, question.options) if letter != answer]
        # Skip texts that also sit inside another option ("Yes" vs "Yes, definitely"): naming them reveals nothing.
        if not any(true_text.lower() in o.lower() for o in others):
            pattern = _text_pattern(true_text)
            if pattern:
                patterns.append(pattern)
    else:
        patterns.append(rf"(?i)\banswer\s*(?:is|should be|:)\s*{re.escape(question.answer)}\b")
        if len(question.answer) >= 6 or any(ch.isdigit() for ch in question.answer):
            pattern = _text_pattern(question.answer, min_length=1)
            if pattern:
                patterns.append(pattern)
    return patterns


def find_leak(guideline: str, question: Question) -> bool:
    return any(re.search(p, guideline) for p in leak_patterns(question))


def redact(guideline: str, question: Question) -> str:
    for pattern in leak_patterns(question):
        guideline = re.sub(pattern, _REDACTED, guideline)
    return guideline
