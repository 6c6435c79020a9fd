"""The leakage guard: a guideline must not hand over the answer of the question it is used for.

A guideline *names the answer* when it gives the correct option's letter as a choice ("(C)",
"answer: c", "Go with C", "Correct: C"), its position ("the third option"), or the option's own
words (ignoring case, a leading article and can't/cannot). Texts are compared after Unicode
normalisation, so a full-width "Ｃ" is a "C". A paraphrase ("the option saying we cannot tell" for
"Not enough info") is not caught: that takes understanding, not patterns, and it is also what a
general lesson sounds like. Hand-written rules because no library checks answer leakage;
``benchmarks/leakage_guard.py`` measures them on a hand-labelled set.

The guard runs where guidelines are made (the assistant), where they enter the memory (import)
and where they are used (each guideline against the question it is injected for).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Sequence

from salam.types import MistakeRecord, Question, RetrievedMemory

_REDACTED = "[the right option]"
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_CHOOSE = r"(?:answer|option|choice|choose|chose|select|pick|letter|go\s+with|correct|right\s+one|reply|respond\s+with)"
_LINK = r"\s*(?:is|was|would\s+be|should\s+be|must\s+be|=|:|-|->|=>)?\s*"
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFKC (full-width letters become ASCII), one apostrophe, "can't" and "can not" as "cannot"."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
    return re.sub(r"\bcan(?:'t|\s+not)\b", "cannot", text, flags=re.IGNORECASE)


def _letter_patterns(letter: str, index: int, count: int) -> list[str]:
    up, low = letter.upper(), letter.lower()
    patterns = [
        rf"\(\s*[{up}{low}]\s*\)",                                          # (C), (c)
        rf"(?i:\b{_CHOOSE}){_LINK}\(?{up}\b(?!['\-]\w)\)?",                   # Go with C, Answer = C, Correct: C, option C
        # A lowercase letter only where it ends the phrase: "answer: c." names C, "choose a person" names nothing.
        rf"(?i:\b{_CHOOSE}){_LINK}\(?{low}\)?(?=\s*(?:$|[.,;!?)]))",
        rf"\b{up}\)?\s+(?i:is|was|would\s+be)\s+(?i:the\s+)?(?i:correct|right|answer)\b",   # C is correct
    ]
    if index < len(_ORDINALS):
        patterns.append(rf"(?i:\b{_ORDINALS[index]}\s+(?:option|choice|answer)\b)")   # the third option
    if index == count - 1 and count > 1:
        patterns.append(r"(?i:\b(?:the\s+)?last\s+(?:option|choice|answer)\b)")
    return patterns


def _text_pattern(text: str) -> str:
    return r"(?i)(?<![\w])" + re.escape(text) + r"(?![\w])"


def _option_text_patterns(answer_text: str, others: list[str]) -> list[str]:
    """The answer option's words, with and without a leading article, when they single it out."""
    full = normalise(answer_text).strip().strip(".").strip()
    variants = dict.fromkeys([full, _ARTICLE.sub("", full)])
    lowered_others = [normalise(o).lower() for o in others]
    return [_text_pattern(v) for v in variants
            if len(v) >= 3 and not any(v.lower() in o for o in lowered_others)]  # "Yes" inside "Yes, definitely" reveals nothing


@lru_cache(maxsize=4096)
def _patterns(text: str, options: tuple[str, ...], answer: str) -> tuple[re.Pattern[str], ...]:
    letters = [chr(ord("A") + i) for i in range(len(options))]
    letter = answer.strip("() ").upper()
    patterns: list[str] = []
    if options and letter in letters:
        index = letters.index(letter)
        patterns += _letter_patterns(letter, index, len(options))
        patterns += _option_text_patterns(options[index], [o for i, o in enumerate(options) if i != index])
    elif answer.strip():
        patterns.append(rf"(?i)\banswer\s*(?:is|should be|:)\s*{re.escape(normalise(answer))}\b")
        if len(answer) >= 6 or any(ch.isdigit() for ch in answer):
            patterns.append(_text_pattern(normalise(answer).strip().strip(".")))
    return tuple(re.compile(p) for p in patterns)


def leak_patterns(question: Question) -> tuple[re.Pattern[str], ...]:
    """Compiled regexes that name ``question``'s answer (none when its answer is unknown)."""
    return _patterns(question.text, tuple(question.options), question.answer)


def find_leak(guideline: str, question: Question) -> bool:
    """Whether ``guideline`` names ``question``'s answer."""
    text = normalise(guideline)
    return any(p.search(text) for p in leak_patterns(question))


def redact(guideline: str, question: Question) -> str:
    """``guideline`` with every naming of ``question``'s answer replaced; unchanged when nothing leaks."""
    if not find_leak(guideline, question):
        return guideline
    text = normalise(guideline)
    for pattern in leak_patterns(question):
        text = pattern.sub(_REDACTED, text)
    return text


def record_question(record: MistakeRecord) -> Question:
    """The question a stored record was written for, with its true answer (what its guideline must not name)."""
    return Question(id=record.id or "record", task=record.task, text=record.question, options=record.options,
                    answer=record.true_answer)


def guard_record(record: MistakeRecord, question: Question | None = None) -> tuple[MistakeRecord, bool]:
    """``record`` with its guideline and reason redacted against its own question and, where given, the
    question it is about to be used for; and whether anything was redacted."""
    guideline, reason = record.guideline, record.reason
    for target in (record_question(record), question):
        if target is not None and target.answer.strip():
            guideline, reason = redact(guideline, target), redact(reason, target)
    if (guideline, reason) == (record.guideline, record.reason):
        return record, False
    return record.model_copy(update={"guideline": guideline, "reason": reason}), True


def guard_retrieved(hits: Sequence[RetrievedMemory], question: Question | None = None) -> tuple[list[RetrievedMemory], int]:
    """Retrieved memories safe to show for ``question``, and how many had to be redacted."""
    out, redacted = [], 0
    for hit in hits:
        record, changed = guard_record(hit.record, question)
        redacted += changed
        out.append(hit.model_copy(update={"record": record}) if changed else hit)
    return out, redacted
