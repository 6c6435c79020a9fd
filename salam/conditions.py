"""The memory conditions of the paper (none, correct, mistake, feedback, feedback_only, agent) as one table.

Each condition says which kind of record it retrieves, which template frames what it injects, and
whether it needs the study assistant. ``build_guidance`` is the one place that turns retrieved
records into the block the main model reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from salam._util.assets import load_prompt
from salam.types import MistakeRecord, RecordKind, RetrievedMemory

Condition = Literal["none", "correct", "mistake", "feedback", "feedback_only", "agent"]


# Markup that a tokenizer may read as control tokens: <start_of_turn>, <|im_start|>, [INST], [multimodal]...
_TAG = re.compile(r"[<>]")
_BRACKET_TOKEN = re.compile(r"\[(/?[A-Za-z_|]{2,24})\]")
# Lines that would pass for the prompt's own structure ("Answer: (B)", "Question: ...").
_STRUCTURE_LINE = re.compile(
    r"^(\s*)(question|new question|answer|wrong answer|correct answer|guideline|feedback|past mistakes)\s*:",
    re.IGNORECASE | re.MULTILINE)


def quote_stored(text: str | None, multiline: bool = False) -> str:
    """Stored text as data, the one way every memory block (exam, bench, assist, the assistant) quotes it.

    Control characters go; ``<``/``>`` become ``‹``/``›`` and ``[TOKEN]`` becomes ``［TOKEN］``, so no
    special token of any tokenizer can be spelled; a single-line field stays on one line, and in a
    multi-line field (a question with its options) no line can pose as the prompt's own ``Answer:``
    or ``Question:`` line.
    """
    from salam._util.text import printable

    text = printable(text or "")
    text = _TAG.sub(lambda m: "‹" if m.group(0) == "<" else "›", text)
    text = _BRACKET_TOKEN.sub(r"［\1］", text)
    if not multiline:
        return " ".join(text.split())
    return _STRUCTURE_LINE.sub(lambda m: f"{m.group(1)}{m.group(2)} -", text.strip())


def _letter_or_text(value: str) -> str:
    value = quote_stored(value)
    return f"({value})" if len(value) == 1 and value.isalpha() else value


def format_case(question: str, wrong: str | None, guideline: str = "", true: str | None = None) -> str:
    """One past case as the main model and the assistant read it (stored text quoted)."""
    lines = [f"Question: {quote_stored(question, multiline=True)}"]
    if wrong:
        lines.append(f"Wrong answer: {_letter_or_text(wrong)}")
    if true:
        lines.append(f"Correct answer: {_letter_or_text(true)}")
    if guideline:
        lines.append(f"Guideline: {quote_stored(guideline)}")
    return "\n".join(lines)


def _solved_cases(records: Sequence[MistakeRecord]) -> dict[str, str]:
    return {"cases": "\n\n".join(f"Question: {quote_stored(r.question, multiline=True)}\nAnswer: {_letter_or_text(r.true_answer)}"
                                   for r in records)}


def _mistake_cases(records: Sequence[MistakeRecord]) -> dict[str, str]:
    return {"cases": "\n\n".join(format_case(r.question, r.wrong_answer, true=r.true_answer) for r in records)}


def _feedback_cases(records: Sequence[MistakeRecord]) -> dict[str, str]:
    return {"cases": "\n\n".join(format_case(r.question, r.wrong_answer, r.guideline) for r in records)}


def _guideline_list(records: Sequence[MistakeRecord]) -> dict[str, str]:
    return {"guidelines": "\n".join(f"- {g}" for g in dict.fromkeys(quote_stored(r.guideline) for r in records))}


@dataclass(frozen=True)
class ConditionSpec:
    """What one condition retrieves and how it frames it for the main model."""

    name: Condition
    kind: RecordKind | None
    """Which records it retrieves: solved cases, mistakes, or nothing."""
    template: str | None
    """The ``prompts/`` template framing the block (``None``: nothing is injected)."""
    fields: Callable[[Sequence[MistakeRecord]], dict[str, str]] | None = None
    """The template's fields from the retrieved records."""
    needs_guideline: bool = False
    """Only records with a guideline count (a feedback condition without guidelines injects nothing)."""
    needs_assistant: bool = False
    """The study assistant writes the guidance at examine time."""


CONDITIONS: dict[str, ConditionSpec] = {
    spec.name: spec for spec in (
        ConditionSpec("none", None, None),
        ConditionSpec("correct", "solved", "guidance_correct", _solved_cases),
        ConditionSpec("mistake", "mistake", "guidance_mistake", _mistake_cases),
        ConditionSpec("feedback", "mistake", "guidance_feedback", _feedback_cases, needs_guideline=True),
        ConditionSpec("feedback_only", "mistake", "guidance_feedback_only", _guideline_list, needs_guideline=True),
        ConditionSpec("agent", "mistake", "guidance_agent", needs_assistant=True),
    )
}
CONDITION_NAMES: tuple[str, ...] = tuple(CONDITIONS)


def condition_spec(name: str) -> ConditionSpec:
    """The table entry for ``name``; a one-line error for an unknown condition."""
    from salam.errors import SalamError

    if name not in CONDITIONS:
        raise SalamError(f"unknown condition {name!r}; choose from {', '.join(CONDITION_NAMES)}")
    return CONDITIONS[name]


def build_guidance(condition: str, retrieved: Sequence[RetrievedMemory], agent_guideline: str = "") -> str:
    """The guidance block for one question; empty when nothing applies (the prompt is then the plain one)."""
    spec = condition_spec(condition)
    if spec.template is None:
        return ""
    if spec.needs_assistant:
        return load_prompt(spec.template).format(guideline=quote_stored(agent_guideline)) if agent_guideline else ""
    records = [r.record for r in retrieved]
    if spec.needs_guideline:
        records = [r for r in records if r.guideline.strip()]
    if not records or spec.fields is None:
        return ""
    return load_prompt(spec.template).format(**spec.fields(records))
