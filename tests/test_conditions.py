"""The condition table: one entry per condition, and the guidance each builds from retrieved records."""

from __future__ import annotations

import pytest

from salam.conditions import CONDITION_NAMES, CONDITIONS, build_guidance, condition_spec
from salam.errors import SalamError
from salam.types import MistakeRecord, RetrievedMemory, memory_outcome


def _hit(guideline: str = "Read the whole text first.", kind: str = "mistake") -> RetrievedMemory:
    record = MistakeRecord(kind=kind, question="Who left?\nOptions:\n(A) Ann\n(B) Bob", wrong_answer="A" if kind == "mistake" else None,
                           true_answer="B", guideline=guideline)
    return RetrievedMemory(record=record, similarity=0.95)


def test_the_table_is_the_papers_six_conditions():
    assert CONDITION_NAMES == ("none", "correct", "mistake", "feedback", "feedback_only", "agent")
    assert CONDITIONS["correct"].kind == "solved" and CONDITIONS["none"].kind is None
    assert [n for n, c in CONDITIONS.items() if c.needs_assistant] == ["agent"]
    with pytest.raises(SalamError, match="unknown condition 'bogus'"):
        condition_spec("bogus")


def test_each_condition_builds_its_block():
    assert build_guidance("none", [_hit()]) == ""
    assert "Answer: (B)" in build_guidance("correct", [_hit(kind="solved")])
    mistake = build_guidance("mistake", [_hit()])
    assert "Wrong answer: (A)" in mistake and "Correct answer: (B)" in mistake and "Guideline" not in mistake
    assert "Guideline: Read the whole text first." in build_guidance("feedback", [_hit()])
    assert build_guidance("feedback_only", [_hit(), _hit()]).count("- Read the whole text first.") == 1
    assert build_guidance("feedback", [_hit(guideline="")]) == ""
    assert build_guidance("agent", [], agent_guideline="Look again.").startswith("Guideline: Look again.")


@pytest.mark.parametrize("correct, baseline, expected", [
    (True, False, "helped"), (False, True, "hurt"), (True, True, None), (False, False, None),
    (True, None, "helped"), (False, None, "hurt"),
])
def test_helped_and_hurt_are_flips_when_a_baseline_exists(correct, baseline, expected):
    assert memory_outcome(correct, baseline) == expected
