"""TriPosT's self-correction turn format and its inference loop: attempt → feedback → update, repeated.

A trajectory is one model turn after the chain-of-thought prompt (``Q: ... A: Let's think step by
step.``, zero-shot: the model was trained on this format)::

    <attempt steps, the last ending "So the answer is X.">
    Feedback: In step 2 the part "(1 + 6) = 6" is incorrect. (1 + 6) is 7, not 6.
    Update:
    <the steps again from step 2>
    Feedback: All steps are correct.

Training (:mod:`salam.train.tripost.train`) writes exactly these strings and inference parses them, so the
two cannot drift. At inference the model writes its own feedback and stops when it says the steps
are correct or after ``max_rounds`` updates; with guidelines from the mistake memory the first
feedback is the memory's guidelines instead (SALAM's feedback, used by a model trained to use feedback).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from salam.answering.cot import ANSWER_END, COT_MAX_NEW_TOKENS, Exemplars, cot_prompt, extract_cot, no_exemplars
from salam.answering.scoring import is_correct
from salam.errors import SalamError
from salam.selfcorrect.protocol import Guidelines, TwoAttempts
from salam.train.tripost.checkers.base import ALL_CORRECT
from salam.types import Attempt, Question

FEEDBACK = "Feedback:"
UPDATE = "Update:"
FEEDBACK_MAX_NEW_TOKENS = 96
MAX_ROUNDS = 5
"""The paper's limit on editing rounds, at training and at inference."""


CORRECT_START, WRONG_START = " All", " In"
"""The first token of each kind of feedback ("All steps are correct." / "In step N the part ... is incorrect.")."""


STOP_STEPS = [f"\n{FEEDBACK}", "\n\nQ:", "\nQ: "]
"""Where an attempt or an update ends: at the next feedback turn or a new question (or after its answer, ANSWER_END)."""


def turn_so_far(model: Any, prompts: Sequence[str], so_far: Sequence[str]) -> list[str]:
    """The text a local model continues from: each formatted prompt, then what the model wrote so far in its turn."""
    from langchain_core.messages import HumanMessage

    return [model.format_prompt([HumanMessage(p)]) + s for p, s in zip(prompts, so_far)]


def continue_turn(model: Any, prompts: Sequence[str], so_far: Sequence[str], stop: list[str], max_new_tokens: int,
                  stop_pattern: str | None = None) -> list[str]:
    """Let a local model continue its own turn: the formatted prompt, what it wrote so far, then more."""
    return [text for text, *_ in model.generate_texts(turn_so_far(model, prompts, so_far), stop=stop,
                                                        max_new_tokens=max_new_tokens, stop_pattern=stop_pattern)]


def wrong_probability(model: Any, prompts: Sequence[str], so_far: Sequence[str]) -> list[float]:
    """P(the model's feedback on what it wrote so far starts " In" rather than " All"), read right after
    ``Feedback:``: the softmax over the two first tokens, one forward pass per batch (no generation)."""
    turns = turn_so_far(model, prompts, [s + f"\n{FEEDBACK}" for s in so_far])
    scores = model.score_options(turns, [[CORRECT_START, WRONG_START]] * len(prompts))
    return [1 / (1 + math.exp(correct - wrong)) for correct, wrong in scores]


def check_wrong_threshold(value: float | None) -> None:
    """A wrong-step threshold is None or a probability strictly between 0 and 1 (0 or 1 would decide nothing)."""
    if value is not None and not 0 < value < 1:
        raise SalamError(f"the wrong-step threshold is a probability between 0 and 1, not {value}")


def feedback_turn(text: str) -> str:
    return f"\n{FEEDBACK} {' '.join(text.split())}"


def update_turn(steps: Sequence[str]) -> str:
    return f"\n{UPDATE}\n" + "\n".join(steps)


def says_correct(feedback: str) -> bool:
    """Whether a feedback line declares the steps correct (the model's stop signal)."""
    return ALL_CORRECT.lower().rstrip(".") in feedback.lower()


class TriPosTAttempts(TwoAttempts):
    """The protocol's record plus TriPosT's own: updates made, and a wrong answer declared correct."""

    rounds: int = 0
    claimed_correct_when_wrong: bool = False
    trajectory: str = ""
    p_wrong: list[float] = []
    """P(" In" vs " All") before each feedback the model wrote, when the runner had a ``wrong_threshold``."""


@dataclass
class TriPosTRunner:
    """Runs attempt → own feedback → update until the model says correct or ``max_rounds`` (local models)."""

    model: Any
    max_rounds: int = MAX_ROUNDS
    exemplars: Exemplars = no_exemplars
    """Each task's few-shot block before the question (default zero-shot: the format the model was trained on)."""
    guidelines: Guidelines | None = None
    max_new_tokens: int = COT_MAX_NEW_TOKENS
    """Tokens an attempt or an update may write."""
    wrong_threshold: float | None = None
    """salam's addition, not the paper's: the feedback names a wrong step when P(" In" vs " All") reaches this,
    else it is "All steps are correct." (a model can rank its wrong attempts above its right ones and still
    never say "wrong" greedily). Choose it on held-out training questions (benchmarks/tripost_threshold.py).
    None: the model's own greedy feedback, as in the paper."""

    def __post_init__(self) -> None:
        if not hasattr(self.model, "generate_texts"):
            raise SalamError("tripost self-correction continues the model's own turn: it needs a local model "
                             "(local, local+lora:..., hf:...)")
        check_wrong_threshold(self.wrong_threshold)
        if self.wrong_threshold is not None and not hasattr(self.model, "score_options"):
            raise SalamError("--wrong-threshold reads the model's next-token probabilities: it needs a local model")

    def _continue(self, prompts: Sequence[str], so_far: Sequence[str], stop: list[str], max_new_tokens: int,
                  stop_pattern: str | None = None) -> list[str]:
        return continue_turn(self.model, prompts, so_far, stop, max_new_tokens, stop_pattern)

    def first_attempts(self, questions: Sequence[Question]) -> tuple[list[str], list[str]]:
        """Each question's chain-of-thought prompt and the model's first attempt (before any feedback)."""
        prompts = [cot_prompt(q, exemplars=self.exemplars(q.task)) for q in questions]
        return prompts, self._continue(prompts, [""] * len(questions), STOP_STEPS, self.max_new_tokens, ANSWER_END)

    def run(self, questions: Sequence[Question], progress: Any = None) -> list[TriPosTAttempts]:
        questions = list(questions)
        prompts, attempts = self.first_attempts(questions)
        so_far = [a.rstrip() for a in attempts]
        answers = [extract_cot(q, a) for q, a in zip(questions, attempts)]
        first = list(answers)
        rounds = [0] * len(questions)
        claimed = [False] * len(questions)
        p_wrong: list[list[float]] = [[] for _ in questions]
        blocks = self.guidelines.blocks(questions) if self.guidelines else [("", [], 0)] * len(questions)
        active = list(range(len(questions)))
        for round_ in range(self.max_rounds + 1):
            if not active:
                break
            given = {i: blocks[i][0] for i in active if round_ == 0 and blocks[i][0]}
            asked = [i for i in active if i not in given]
            texts, probabilities = self._feedback([prompts[i] for i in asked], [so_far[i] for i in asked])
            written = dict(zip(asked, texts))
            for i, p in zip(asked, probabilities):
                p_wrong[i].append(p)
            updating = []
            for i in active:
                feedback = given.get(i) or written.get(i, "")
                so_far[i] += feedback_turn(feedback)
                if i not in given and says_correct(feedback):
                    claimed[i] = not is_correct(questions[i], answers[i])
                elif round_ < self.max_rounds:
                    updating.append(i)
            if updating:
                updates = self._continue([prompts[i] for i in updating], [so_far[i] + f"\n{UPDATE}\n" for i in updating],
                                         STOP_STEPS, self.max_new_tokens, ANSWER_END)
                for i, update in zip(updating, updates):
                    so_far[i] += f"\n{UPDATE}\n" + update.rstrip()
                    answers[i] = extract_cot(questions[i], update) or answers[i]
                    rounds[i] += 1
            active = updating
            if progress:
                progress(0)
        if progress:
            progress(len(questions))
        return [self._record(q, p, t, a1, a2, r, c, block, pw) for q, p, t, a1, a2, r, c, block, pw
                in zip(questions, prompts, so_far, first, answers, rounds, claimed, blocks, p_wrong)]

    def _feedback(self, prompts: Sequence[str], so_far: Sequence[str]) -> tuple[list[str], list[float]]:
        """The model's feedback on each turn so far, and P(wrong) before it when ``wrong_threshold`` decides the
        first word (then the model writes the rest of a "wrong step" line); greedy feedback has no P(wrong)."""
        if not prompts:
            return [], []
        turns = [s + f"\n{FEEDBACK}" for s in so_far]
        if self.wrong_threshold is None:
            return self._continue(prompts, turns, ["\n"], FEEDBACK_MAX_NEW_TOKENS), []
        probabilities = wrong_probability(self.model, prompts, so_far)
        flagged = [i for i, p in enumerate(probabilities) if p >= self.wrong_threshold]
        feedback = [ALL_CORRECT] * len(turns)
        if flagged:
            rest = self._continue([prompts[i] for i in flagged], [turns[i] + WRONG_START for i in flagged], ["\n"],
                                  FEEDBACK_MAX_NEW_TOKENS)
            for i, text in zip(flagged, rest):
                feedback[i] = WRONG_START.strip() + text
        return feedback, probabilities

    @staticmethod
    def _record(question: Question, prompt: str, trajectory: str, first: str | None, final: str | None, rounds: int,
                claimed: bool, block: tuple[str, list[str], int], p_wrong: list[float]) -> TriPosTAttempts:
        t1 = Attempt(round=1, prompt=prompt, output=trajectory.split(f"\n{FEEDBACK}", 1)[0], answer=first,
                     correct=is_correct(question, first))
        t2 = Attempt(round=2, prompt=prompt, output=trajectory, answer=final, correct=is_correct(question, final),
                     guideline=block[0] or None)
        return TriPosTAttempts(question_id=question.id, task=question.task, t1=t1, t2=t2, memories=block[1],
                               redacted=block[2], rounds=rounds, claimed_correct_when_wrong=claimed, trajectory=trajectory,
                               p_wrong=p_wrong)
