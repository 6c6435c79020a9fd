"""What each memory source injects into the main model's prompt (the paper's six conditions)."""

from __future__ import annotations

from typing import Literal, Sequence

from salam.assets import load_prompt
from salam.assistant import format_case
from salam.types import RecordKind, RetrievedMemory

Source = Literal["none", "correct", "mistake", "feedback", "feedback_only", "agent"]
SOURCES: tuple[Source, ...] = ("none", "correct", "mistake", "feedback", "feedback_only", "agent")


def source_kind(source: Source) -> RecordKind | None:
    """Which kind of record a source retrieves: solved cases for ``correct``, mistakes otherwise."""
    if source == "none":
        return None
    return "solved" if source == "correct" else "mistake"


def build_guidance(source: Source, retrieved: Sequence[RetrievedMemory], agent_guideline: str = "") -> str:
    """The guidance block for one question; empty when nothing applies (the prompt is then the plain one)."""
    if source == "none":
        return ""
    if source == "agent":
        return load_prompt("guidance_agent").format(guideline=agent_guideline) if agent_guideline else ""
    records = [r.record for r in retrieved]
    if source == "correct":
        cases = "\n\n".join(f"Question: {r.question}\nAnswer: {_answer(r.true_answer)}" for r in records)
        return load_prompt("guidance_correct").format(cases=cases) if records else ""
    if source == "mistake":
        cases = "\n\n".join(format_case(r.question, r.wrong_answer, true=r.true_answer) for r in records)
        return load_prompt("guidance_mistake").format(cases=cases) if records else ""
    with_guides = [r for r in records if r.guideline.strip()]
    if not with_guides:
        return ""
    if source == "feedback_only":
        guidelines = "\n".join(f"- {g}" for g in dict.fromkeys(r.guideline.strip() for r in with_guides))
        return load_prompt("guidance_feedback_only").format(guidelines=guidelines)
    cases = "\n\n".join(format_case(r.question, r.wrong_answer, r.guideline) for r in with_guides)
    return load_prompt("guidance_feedback").format(cases=cases)


def _answer(value: str) -> str:
    return f"({value})" if len(value) == 1 and value.isalpha() else value
