"""The two-attempt protocol (SCoRe's, used by every recipe): answer, then review the answer and correct it.

Attempt 1 is the ordinary answer prompt. Attempt 2 shows the question, the model's own first answer
and an instruction to check it (``prompts/self_correct.txt``), optionally after guidelines that the
mistake memory holds for similar questions (the ``feedback_only`` condition). In ``choice`` mode both
attempts are scored letters; in ``generate`` mode the model writes and the answer is extracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from pydantic import BaseModel, Field

from salam._util.assets import load_prompt
from salam.answering.answerer import Answerer, AnswerMode, answer_prompt
from salam.assistant.leakage import guard_retrieved
from salam.conditions import build_guidance
from salam.defaults import BATCH_SIZE, DEFAULT_RANK, RETRIEVAL_K, RETRIEVAL_THRESHOLD, SAME_TASK
from salam.types import Attempt, Question


def first_answer_text(question: Question, answer: str | None) -> str:
    """How attempt 2 shows the first answer: `` (B)`` for a letter, `` text`` otherwise, `` (none)`` if unparsed."""
    if not answer:
        return " (none)"
    return f" ({answer})" if question.is_multiple_choice else f" {answer}"


def correction_prompt(question: Question, first_answer: str | None, guidance: str = "") -> str:
    """The attempt-2 prompt; it ends where the final answer goes (``Final answer: (`` for multiple choice)."""
    return load_prompt("self_correct").format(
        guidance=guidance, question=question.render(), first_answer=first_answer_text(question, first_answer),
        answer_prefix=" (" if question.is_multiple_choice else "",
    )


class TwoAttempts(BaseModel):
    """One question under the protocol: both attempts and the guidelines attempt 2 saw."""

    question_id: str
    task: str
    t1: Attempt
    t2: Attempt
    memories: list[str] = Field(default_factory=list)
    redacted: int = 0

    @property
    def outcome(self) -> str:
        """``c→c``, ``i→c``, ``c→i`` or ``i→i`` (correct / incorrect at attempt 1 → attempt 2)."""
        return f"{'c' if self.t1.correct else 'i'}→{'c' if self.t2.correct else 'i'}"


@dataclass
class Guidelines:
    """Where attempt 2's guidelines come from: a memory namespace, searched like the feedback_only condition."""

    memory: Any
    namespace: str = "default"
    k: int = RETRIEVAL_K
    threshold: float = RETRIEVAL_THRESHOLD
    same_task: bool = SAME_TASK
    rank: str = DEFAULT_RANK

    @classmethod
    def open(cls, path: str, namespace: str = "default") -> "Guidelines":
        """The guidelines of an existing memory folder (close ``memory`` when done)."""
        from salam.memory import MistakeMemory

        return cls(MistakeMemory.open(path, create=False), namespace)

    def block_map(self, questions: Sequence[Question]) -> dict[str, str]:
        """Question id -> its guidance block ("" when nothing similar is stored): for training, computed once."""
        return {q.id: block for q, (block, _, _) in zip(questions, self.blocks(questions))}

    def blocks(self, questions: Sequence[Question]) -> list[tuple[str, list[str], int]]:
        """(guidance block, memory ids, redactions) per question; a question never retrieves its own record."""
        tasks = [q.task for q in questions] if self.same_task else None
        found = self.memory.similar_many([q.render() for q in questions], self.k, self.threshold, self.namespace,
                                         task=tasks, kind="mistake", rank=self.rank)
        out = []
        for q, hits in zip(questions, found):
            hits, redacted = guard_retrieved(hits, q)
            block = build_guidance("feedback_only", hits)
            out.append((block, [h.record.id for h in hits] if block else [], redacted))
        return out


@dataclass
class TwoAttemptRunner:
    """Runs the protocol for a model: attempt 1 for all questions, then attempt 2 given each first answer."""

    model: Any
    mode: AnswerMode = "choice"
    batch_size: int = BATCH_SIZE
    guidelines: Guidelines | None = None
    answerer: Answerer = field(init=False)

    def __post_init__(self) -> None:
        self.answerer = Answerer(self.model, self.mode, self.batch_size)

    def run(self, questions: Sequence[Question], progress: Any = None) -> list[TwoAttempts]:
        questions = list(questions)
        first = self.answerer.answer_prompts(questions, [answer_prompt(q) for q in questions], round_=1)
        if progress:
            progress(len(questions) // 2)
        blocks = self.guidelines.blocks(questions) if self.guidelines else [("", [], 0)] * len(questions)
        prompts = [correction_prompt(q, a.answer, block) for q, a, (block, _, _) in zip(questions, first, blocks)]
        second = self.answerer.answer_prompts(questions, prompts, round_=2, guidelines=[b or None for b, _, _ in blocks])
        if progress:
            progress(len(questions) - len(questions) // 2)
        return [TwoAttempts(question_id=q.id, task=q.task, t1=a1, t2=a2, memories=ids, redacted=n)
                for q, a1, a2, (_, ids, n) in zip(questions, first, second, blocks)]
