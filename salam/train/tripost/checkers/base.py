"""What every script feedback module shares: steps of a rationale, the feedback on them, the rewrite.

A rationale is the model's chain of thought in the BBH few-shot style: a ``Let's think step by step.``
line, then one step per line, the last ending ``So the answer is X.``. A script task knows the truth of
its question, so it can check every written step (not just the final answer), name the first wrong
one, and rewrite the rationale from there with its own gold steps (TriPosT's improvement module).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Literal

from salam.answering.cot import THINK, final_answer
from salam.types import Question

Verdict = Literal["correct", "wrong", "unparseable"]
ALL_CORRECT = "All steps are correct."


@dataclass(frozen=True)
class StepFeedback:
    """A checker's verdict on a rationale: correct, the first wrong step (1-based) and why, or unparseable."""

    verdict: Verdict
    step: int | None = None
    part: str = ""
    """The wrong part of the step, as written."""
    why: str = ""

    @property
    def is_correct(self) -> bool:
        return self.verdict == "correct"

    def text(self) -> str:
        """The feedback as the model learns to write it (TriPosT's feedback turn)."""
        if self.verdict == "correct":
            return ALL_CORRECT
        if self.verdict == "wrong" and not self.part:
            return f"Step {self.step} is missing. {self.why}".strip()
        if self.verdict == "wrong":
            return f'In step {self.step} the part "{self.part}" is incorrect. {self.why}'.strip()
        return f"The steps could not be followed: {self.why}"


def steps_of(rationale: str) -> list[str]:
    """The rationale's steps: its non-empty lines after ``Let's think step by step.`` (and any ``A:``)."""
    lines = [line.strip() for line in rationale.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("A:"):
        lines[0] = lines[0][2:].strip()
    while lines and (not lines[0] or lines[0].lower().startswith("let's think step by step")):
        rest = lines[0][len(THINK):].strip() if lines[0].lower().startswith("let's think") else ""
        lines = ([rest] if rest else []) + lines[1:]
    return lines


def join_steps(steps: list[str]) -> str:
    return "\n".join([THINK, *steps])


class ScriptTask(ABC):
    """One BBH task with a generator, a gold rationale writer and an exact step checker."""

    name: str
    seen: tuple[int, ...]
    """Difficulties trained on (BBH's own questions are among them)."""
    unseen: tuple[int, ...]
    """Harder difficulties never trained on, to test transfer (as the TriPosT paper splits them)."""

    @abstractmethod
    def generate(self, rng: random.Random, difficulty: int, index: int = 0) -> Question:
        """A new question in BBH's own format, with its target answer."""

    @abstractmethod
    def solve(self, question: Question) -> list[str]:
        """Gold steps, the last ending ``So the answer is <target>.``."""

    @abstractmethod
    def check(self, question: Question, rationale: str) -> StepFeedback:
        """Check every step against the truth; the first wrong one is named."""

    continues_with_model = True
    """The update is the correct step in place of the faulty one; the main model writes on from there."""

    def check_many(self, questions: list[Question], rationales: list[str]) -> list[StepFeedback]:
        """``check`` over a batch (the interface rollouts call; a chat-model module batches its calls here)."""
        return [self.check(q, r) for q, r in zip(questions, rationales)]

    def update_many(self, questions: list[Question], steps: list[list[str]], feedbacks: list[StepFeedback]) -> list[list[str]]:
        """``update`` over a batch."""
        return [self.update(q, s, f) for q, s, f in zip(questions, steps, feedbacks)]

    def rationale(self, question: Question) -> str:
        return join_steps(self.solve(question))

    def update(self, question: Question, steps: list[str], feedback: StepFeedback) -> list[str]:
        """TriPosT's improvement module: the gold step at the faulty one's position (aligned by position)."""
        gold = self.solve(question)
        return [gold[min((feedback.step or 1) - 1, len(gold) - 1)]]

    def improve(self, question: Question, rationale: str, feedback: StepFeedback) -> str:
        """The whole rationale repaired: the steps before the faulty one, then the gold steps from there."""
        if feedback.is_correct:
            return rationale
        gold = self.solve(question)
        kept = steps_of(rationale)[: max(0, (feedback.step or 1) - 1)] if feedback.verdict == "wrong" else []
        return join_steps(kept + gold[min(len(kept), len(gold) - 1):])

    def first_wrong(self, question: Question, rationale: str, check_step: Callable[[str], tuple | None]) -> StepFeedback:
        """Check steps in order with ``check_step`` (None, or (verdict, part, why)); then the stated answer."""
        steps = steps_of(rationale)
        for number, step in enumerate(steps, 1):
            found = check_step(step)
            if found is not None:
                return StepFeedback(found[0], number, found[1], found[2])
        return self.answer_step(question, steps) or StepFeedback("correct")

    def answer_step(self, question: Question, steps: list[str]) -> StepFeedback | None:
        """The shared final check: the last stated answer must be the target; no answer at all is a missing step."""
        stated = final_answer("\n".join(steps))
        if stated is None:  # every step so far holds, and then the steps stop: the next one is missing
            return StepFeedback("wrong", len(steps) + 1, "", "The steps stop before stating the answer.")
        if _norm(stated) != _norm(question.answer):
            return StepFeedback("wrong", len(steps), f"So the answer is {stated}", "It does not follow from the steps.")
        return None


def _norm(text: str) -> str:
    return " ".join(text.split()).strip(".").lower()
