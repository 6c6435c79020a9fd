"""The study assistant writes one guideline for a cluster of near-duplicate records (``salam memory curate``)."""

from __future__ import annotations

from typing import Any, Callable

from salam._util.assets import load_prompt
from salam.types import MistakeRecord

STOP = ["\n"]


def consolidation_prompt(members: list[MistakeRecord]) -> str:
    guidelines = "\n".join(f"- {g}" for g in dict.fromkeys(m.guideline.strip() for m in members if m.guideline.strip()))
    return load_prompt("consolidate").format(question=members[0].question, guidelines=guidelines)


def consolidator(model: Any) -> Callable[[list[MistakeRecord]], str | None]:
    """members -> the model's one-line guideline (the caller's leakage guard decides whether it is kept)."""
    def consolidate(members: list[MistakeRecord]) -> str | None:
        reply = model.batch([consolidation_prompt(members)], stop=STOP)[0]
        text = str(reply.content).strip().strip('"').strip()
        return text or None

    return consolidate
