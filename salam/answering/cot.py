"""Chain-of-thought answering, as BBH's own evaluation does it.

The prompt is the task's official few-shot chain-of-thought prompt (``--shots``, BBH: 3), then
``Q: <question>`` and ``A: Let's think step by step.``; the model writes its steps and the answer is the
last ``So the answer is X`` (exact match after whitespace and case folding; an option letter for
multiple choice). Tasks without a chain-of-thought prompt (BBQ, a user's questions) are asked zero-shot.
"""

from __future__ import annotations

import re
from typing import Callable

from salam.answering.scoring import extract_choice, normalise_letter
from salam.types import Question

THINK = "Let's think step by step."
COT_STOP = ["\n\nQ:", "\nQ: "]
COT_MAX_NEW_TOKENS = 512
"""Enough for most of BBH's rationales on the embedded model (a 40-symbol Dyck trace, a 10-word sort)."""
ANSWER_END = r"answer is [^\n]*\."
"""A local model stops right after its first stated answer: one answer per attempt, no time on what follows."""
_FINAL = re.compile(r"answer is\s*:?\s*(.+?)\s*\.?\s*$", re.IGNORECASE)


Exemplars = Callable[[str], str]
"""A task's few-shot chain-of-thought block (``Q: ...\nA: ...`` pairs, "" if none): the benchmark side supplies
it (:func:`salam.data.bbh.cot_exemplar_block`), so answering never reads benchmark files itself."""


def no_exemplars(task: str) -> str:
    """Zero-shot: no exemplars for any task."""
    return ""


def cot_prompt(question: Question, guidance: str = "", exemplars: str = "", note: str = "") -> str:
    """Few-shot exemplars, any guidance block, the question, any note on this attempt and the start of the answer."""
    head = f"{exemplars}\n\n" if exemplars else ""
    return f"{head}{guidance}Q: {question.render()}\n{note}A: {THINK}"


def final_answer(rationale: str) -> str | None:
    """The answer a chain of thought commits to: its last ``answer is X`` line, else None."""
    for line in reversed(rationale.strip().splitlines()):
        match = _FINAL.search(line.strip())
        if match:
            return match.group(1).strip()
    return None


def extract_cot(question: Question, output: str) -> str | None:
    """The final answer of a chain of thought: an option letter for multiple choice, else the free text."""
    stated = final_answer(output)
    if stated is None:
        return None
    if question.is_multiple_choice:
        letter = normalise_letter(stated)
        return letter if letter in question.letters else extract_choice(stated, question.letters, question.options)
    return stated
