"""The study assistant as TriPosT's feedback and improvement module, for tasks no script can check.

The reward stays exact: a rationale whose final answer is the gold one is correct. For a wrong one the
assistant (any model spec), told the correct answer, names the first wrong step in the script
modules' own form (``In step N the part "..." is incorrect. ...``) and then rewrites the steps from
there, ending with the correct answer — the paper's LLM feedback and improvement modules. A reply
that does not name a step is an ``unparseable`` outcome (the trajectory is dropped), never a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from salam._util.assets import load_prompt
from salam.answering.cot import extract_cot, final_answer
from salam.answering.scoring import is_correct
from salam.feedback.base import StepFeedback, steps_of
from salam.types import Question

_NAMED = re.compile(r'In step (\d+),? the part "([^"\n]*)" is incorrect\.?\s*([^\n]*)', re.IGNORECASE)
_STEP_ONLY = re.compile(r"\bstep (\d+)\b[^\n]*", re.IGNORECASE)


def _numbered(steps: list[str]) -> str:
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))


def _target(question: Question) -> str:
    """The correct final answer as a rationale states it: ``(B)`` for multiple choice, else the text."""
    return f"({question.answer})" if question.is_multiple_choice else question.answer


@dataclass
class AssistantFeedback:
    """Feedback and improvement written by a chat model; the update replaces the steps from the faulty one."""

    model: Any
    name: str = "assistant"
    continues_with_model = False
    """The update is the assistant's own rewrite (a script's update is one step the main model continues)."""

    def check(self, question: Question, rationale: str) -> StepFeedback:
        steps = steps_of(rationale)
        if is_correct(question, extract_cot(question, rationale)):
            return StepFeedback("correct")
        if not steps:
            return StepFeedback("wrong", 1, "", "There are no steps.")
        prompt = load_prompt("tripost_feedback").format(answer=_target(question), question=question.render(),
                                                        steps=_numbered(steps))
        reply = str(self.model.invoke(prompt).content).strip()
        named = _NAMED.search(reply)
        if named and 1 <= int(named.group(1)) <= len(steps) + 1:
            return StepFeedback("wrong", int(named.group(1)), named.group(2), named.group(3).strip())
        loose = _STEP_ONLY.search(reply)
        if loose and 1 <= int(loose.group(1)) <= len(steps) + 1:
            return StepFeedback("wrong", int(loose.group(1)), "", loose.group(0).strip())
        return StepFeedback("unparseable", why="the assistant's feedback names no step")

    def update(self, question: Question, steps: list[str], feedback: StepFeedback) -> list[str]:
        """The assistant's steps from the faulty one on; its last line states the correct answer."""
        at = max(1, feedback.step or 1)
        prompt = load_prompt("tripost_update").format(step=at, feedback=feedback.text(), answer=_target(question),
                                                      question=question.render(), steps=_numbered(steps))
        reply = str(self.model.invoke(prompt).content)
        written = [re.sub(r"^\d+[.)]\s*", "", line).strip() for line in reply.splitlines() if line.strip()]
        answered = next((i for i, line in enumerate(written) if final_answer(line) is not None), None)
        return written if answered is None else written[: answered + 1]
