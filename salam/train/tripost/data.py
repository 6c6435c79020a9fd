"""TriPosT's data: interactive editing of the model's own attempts, filtering, splitting, rebalancing.

Editing (the paper's interactive demonstrations): a script checks the attempt; if a step is wrong, its
feedback names the first wrong step and the improvement module writes the correct step there; the
current model then continues the rationale from that step (it is still the model's own attempt), and
the script checks again, up to ``max_rounds`` times. Trajectories are dropped when a rationale cannot
be parsed, when a round makes no progress (the first wrong step does not move forward) or when the
last round is still wrong. The rest become examples in the turn format of
:mod:`salam.train.tripost.runner`:

- *improvement*: the attempt (and earlier rounds) as context with loss weight 0 — the model must not
  learn its wrong steps — then one round's feedback and update with weight ``feedback_weight``.
- *non-improvement*: a correct attempt (weight 1) and ``Feedback: All steps are correct.``; and the
  end of an edited trajectory: everything before as context (weight 0), then that feedback.

Rebalancing, as the authors' code does it (jasonyux/TriPosT, ``improve_data_ratio``): at most
``len(improvement) / improve_ratio`` non-improvement examples (sampled), then as many gold rationales
with "correct" feedback as non-improvement examples were kept. Gold never fills a shortfall: salam's
first reading did, and a model with 1 right attempt in 48 got 20 gold "correct" examples
(``benchmarks/results/tripost.md`` compares the two runs).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field

from salam.answering.cot import cot_prompt, final_answer
from salam.train.completions import CompletionExample
from salam.train.tripost.checkers.base import ALL_CORRECT, StepFeedback, steps_of
from salam.train.tripost.runner import FEEDBACK, UPDATE, feedback_turn, update_turn
from salam.types import Question


@dataclass
class Round:
    feedback: StepFeedback
    update: list[str]
    """The steps written from the faulty step on (the gold step, then the model's continuation)."""


@dataclass
class Trajectory:
    question: Question
    attempt: list[str]
    rounds: list[Round] = field(default_factory=list)
    outcome: str = "correct"
    """correct (first attempt), improved, unparseable, no progress, never correct."""

    @property
    def kept(self) -> bool:
        return self.outcome in ("correct", "improved")


def full_steps(trajectory: Trajectory) -> list[str]:
    """The rationale as it stands after the last round (earlier steps kept, later ones rewritten)."""
    steps = list(trajectory.attempt)
    for r in trajectory.rounds:
        steps = steps[: (r.feedback.step or 1) - 1] + r.update
    return steps


def examples_of(trajectory: Trajectory, feedback_weight: float) -> tuple[list[CompletionExample], list[CompletionExample]]:
    """(improvement, non-improvement) examples of a kept trajectory."""
    prompt = cot_prompt(trajectory.question)
    text = "\n".join(trajectory.attempt)
    if not trajectory.rounds:
        return [], [CompletionExample(prompt, ((text, 1.0), (feedback_turn(ALL_CORRECT), feedback_weight)))]
    improvement = []
    for r in trajectory.rounds:
        turn = feedback_turn(r.feedback.text()) + update_turn(r.update)
        # the model goes on to write the next feedback: the turn does not end here
        improvement.append(CompletionExample(prompt, ((text, 0.0), (turn, feedback_weight)), ends_turn=False))
        text += turn
    return improvement, [CompletionExample(prompt, ((text, 0.0), (feedback_turn(ALL_CORRECT), feedback_weight)))]


def gold_steps(question: Question) -> list[str]:
    """A gold rationale: the task's script writes one; for other tasks it is the answer alone."""
    from salam.train.tripost.checkers.scripts import SCRIPTS

    if question.task in SCRIPTS:
        return SCRIPTS[question.task].solve(question)
    return [f"So the answer is {'(' + question.answer + ')' if question.is_multiple_choice else question.answer}."]


def gold_example(question: Question, feedback_weight: float) -> CompletionExample:
    return CompletionExample(cot_prompt(question), (("\n".join(gold_steps(question)), 1.0),
                                                     (feedback_turn(ALL_CORRECT), feedback_weight)))


def rebalance(improvement: list[CompletionExample], other: list[CompletionExample], gold: list[CompletionExample],
              ratio: float, rng: random.Random) -> tuple[list[CompletionExample], Counter]:
    """At most ``len(improvement) / ratio`` non-improvement examples, and as many gold ones as those kept."""
    want = math.ceil(len(improvement) / ratio) if improvement else len(other)
    other = rng.sample(other, want) if len(other) > want else other
    added = gold[: len(other)]
    mixed = improvement + other + added
    rng.shuffle(mixed)
    return mixed, Counter({"improvement": len(improvement), "non-improvement": len(other), "gold": len(added)})


def attempt_steps(text: str) -> list[str]:
    """The model's attempt as steps, up to its first stated answer (a feedback turn or anything after the
    answer that it went on to write is not part of the attempt)."""
    steps = steps_of(text.split(f"\n{FEEDBACK}", 1)[0].split(f"\n{UPDATE}", 1)[0])
    answered = next((i for i, step in enumerate(steps) if final_answer(step) is not None), None)
    return steps if answered is None else steps[: answered + 1]
