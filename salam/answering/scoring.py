"""Answer extraction and scoring for multiple-choice and free-form questions.

Written by hand because it must accept what small models actually write — ``(B)``, ``B)``,
``The answer is B.``, the option's text — and refuse to guess when nothing matches.
"""

from __future__ import annotations

import re

from salam.types import Question

_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().strip(".").strip().lower()


def normalise_letter(value: str) -> str:
    """``"(b) "`` -> ``"B"``: an option letter as written in data files and model outputs."""
    return value.strip().strip("()").strip().upper()


def extract_choice(output: str, letters: list[str], options: list[str] | None = None) -> str | None:
    """The option letter a model's output commits to, or None.

    Order: a leading letter (the prompt often ends with ``(``), ``(X)``, ``answer is X``, a bare letter
    line, then a unique option text.
    """
    if not letters:
        return None
    text = output.strip()
    allowed = "".join(letters)
    first_line = text.split("\n", 1)[0].strip()
    patterns = [
        rf"^\(?([{allowed}])\)(?:\W|$)",            # "B) ..." or "(B) ..."
        rf"^([{allowed}])(?:[.:,]|\s*$)",          # "B." / "B" alone / "B:"
        rf"\(([{allowed}])\)",                     # "(B)" anywhere
        rf"answer\s*(?:is|:)?\s*:?\s*\(?([{allowed}])\b",  # "answer is B"
        rf"\boption\s*\(?([{allowed}])\b",         # "option B"
    ]
    for i, pattern in enumerate(patterns):
        target = first_line if i < 2 else text
        match = re.search(pattern, target, flags=0 if i < 3 else re.IGNORECASE)
        if match:
            return match.group(1).upper()
    if options:
        lowered = _norm(text)
        hits = [letter for letter, option in zip(letters, options) if option and _norm(option) and _norm(option) in lowered]
        if len(hits) == 1:
            return hits[0]
    return None


def extract_free(output: str) -> str | None:
    """A free-form answer: the first non-empty line, with ``answer is`` and trailing punctuation removed."""
    for line in output.strip().split("\n"):
        line = line.strip()
        if line:
            match = re.search(r"answer\s+is\s*:?\s*(.+)", line, flags=re.IGNORECASE)
            value = match.group(1) if match else line
            return value.strip().rstrip(".").strip()
    return None


def extract_answer(question: Question, output: str) -> str | None:
    """The letter (multiple choice) or the free-form answer a model's output commits to."""
    if question.is_multiple_choice:
        return extract_choice(output, question.letters, question.options)
    return extract_free(output)


def is_correct(question: Question, answer: str | None) -> bool:
    """Letters compare case- and bracket-insensitively, free answers after whitespace and case folding."""
    if answer is None:
        return False
    if question.is_multiple_choice:
        return normalise_letter(answer) == normalise_letter(question.answer)
    return _norm(answer) == _norm(question.answer)
