"""The study assistant as TriPosT's feedback and improvement module, for tasks no script can check.

The reward stays exact: a rationale whose final answer is the gold one is correct. For a wrong one the
assistant (any model spec), told the correct answer, names the first wrong step in the script
modules' own form (``In step N the part "..." is incorrect. ...``) and then rewrites the steps from
there; salam closes the rewrite with the correct answer's line — the paper's LLM feedback and
improvement modules. A reply that does not name a step is an ``unparseable`` outcome (the trajectory is
dropped), never a crash. Calls are batched (``check_many`` / ``update_many``), one per round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from salam._util.assets import load_prompt
from salam.answering.cot import extract_cot, final_answer
from salam.answering.scoring import is_correct
from salam.train.tripost.checkers.base import StepFeedback, steps_of
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
        return self.check_many([question], [rationale])[0]

    def update(self, question: Question, steps: list[str], feedback: StepFeedback) -> list[str]:
        return self.update_many([question], [steps], [feedback])[0]

    def check_many(self, questions: list[Question], rationales: list[str]) -> list[StepFeedback]:
        """Exact verdicts; the wrong rationales' first wrong step named by the assistant in one batched call."""
        verdicts: list[StepFeedback | None] = [None] * len(questions)
        asked: list[tuple[int, list[str]]] = []
        prompts = []
        for i, (question, rationale) in enumerate(zip(questions, rationales)):
            steps = steps_of(rationale)
            if is_correct(question, extract_cot(question, rationale)):
                verdicts[i] = StepFeedback("correct")
            elif not steps:
                verdicts[i] = StepFeedback("wrong", 1, "", "There are no steps.")
            else:
                asked.append((i, steps))
                prompts.append(load_prompt("tripost_feedback").format(answer=_target(question), question=question.render(),
                                                                       steps=_numbered(steps)))
        for (i, steps), reply in zip(asked, self._replies(prompts, stop=["\n"])):
            verdicts[i] = _named_step(reply, steps)
        return cast("list[StepFeedback]", verdicts)  # every slot is filled above

    def update_many(self, questions: list[Question], steps: list[list[str]], feedbacks: list[StepFeedback]) -> list[list[str]]:
        """The assistant's steps from each faulty one on (one batched call), ending with the correct answer."""
        prompts = [load_prompt("tripost_update").format(step=max(1, f.step or 1), feedback=f.text(), answer=_target(q),
                                                        question=q.render(), steps=_numbered(s))
                   for q, s, f in zip(questions, steps, feedbacks)]
        return [_rewritten(reply, _target(q)) for q, reply in zip(questions, self._replies(prompts))]

    def _replies(self, prompts: list[str], stop: list[str] | None = None) -> list[str]:
        # A local model's batch() is one left-padded generate per batch; a provider's, LangChain's thread pool.
        return [str(m.content).strip() for m in self.model.batch(prompts, stop=stop)] if prompts else []


def _named_step(reply: str, steps: list[str]) -> StepFeedback:
    """The step the assistant names, made to fit the rationale; a reply naming none is unparseable.

    The prompt ends ``Feedback: In step``, so the reply usually starts with the number. A small assistant
    often quotes a part the step does not contain or names a step past the last one: the exact reward
    already says the stated answer is wrong, so a step past an answered rationale is its answer step, and
    a quote that is not in the step becomes the whole step.
    """
    reply = reply.strip()
    if not re.match(r"in step\b", reply, re.IGNORECASE):
        reply = f"In step {reply}"
    named = _NAMED.search(reply) or _STEP_ONLY.search(reply)
    if not named:
        return StepFeedback("unparseable", why="the assistant's feedback names no step")
    number, why = int(named.group(1)), (named.group(3) if named.re is _NAMED else named.group(0)).strip()
    answered = bool(steps) and final_answer(steps[-1]) is not None
    if number < 1 or number > len(steps) + 1:
        return StepFeedback("unparseable", why=f"the assistant names step {number} of {len(steps)}")
    if number > len(steps) and answered:
        number = len(steps)
    if number > len(steps):
        return StepFeedback("wrong", number, "", why)
    quoted = named.group(2) if named.re is _NAMED else ""
    step = steps[number - 1]
    return StepFeedback("wrong", number, quoted if quoted and quoted.lower() in step.lower() else step, why)


MAX_UPDATE_STEPS = 4
"""Reasoning lines kept from an assistant's rewrite, before the answer line salam writes."""


def _rewritten(reply: str, target: str) -> list[str]:
    """The assistant's reasoning lines (numbering, repeats and bare ``Step N:`` headers dropped, at most
    ``MAX_UPDATE_STEPS``), then ``So the answer is <target>.``.

    The answer line is salam's, not the assistant's: the improvement module is told the correct answer,
    and the embedded 270M assistant ended its rewrite with it in 5 of 144 BBQ updates (the rest were
    dropped as "no progress", leaving 4 training steps), so its own answer line is not waited for.
    """
    lines = [re.sub(r"^\d+[.)]\s*", "", line).strip() for line in reply.splitlines()]
    lines = [line for line in lines if line and not re.fullmatch(r"step \d+:?", line, re.IGNORECASE)]
    answered = next((i for i, line in enumerate(lines) if final_answer(line) is not None), len(lines))
    return list(dict.fromkeys(lines[:answered]))[:MAX_UPDATE_STEPS] + [f"So the answer is {target}."]
