"""The study assistant: turns a mistake into a reason and a guideline that does not give the answer away."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from salam._util.assets import load_prompt
from salam.assistant.leakage import find_leak, redact
from salam.assistant.parsing import parse_feedback
from salam.conditions import format_case
from salam.defaults import CHAT_ASSISTANT_MAX_NEW_TOKENS
from salam.types import Feedback, Question, RetrievedMemory

ANALYSE_PREFIX = '{"guideline": "'
ASSISTANT_STOP = ["\n\nQuestion:", "\nQuestion:", "\n\n\n", "\nNew question:"]


@dataclass
class AssistantStats:
    """Counters a run reports: how often the assistant's output was unusable or leaked."""

    calls: int = 0
    parse_failures: int = 0
    leaks: int = 0
    retries: int = 0


def analyse_prompt(question: Question, wrong_answer: str | None) -> str:
    """The exact analysis prompt (also the prompt side of imitation-learning examples)."""
    wrong = f"({wrong_answer})" if question.is_multiple_choice and wrong_answer else (wrong_answer or "(no answer)")
    true = f"({question.answer})" if question.is_multiple_choice else question.answer
    return load_prompt("assistant_analyse").format(question=question.render(), wrong_answer=wrong, true_answer=true)


def advise_prompt(question: Question, retrieved: Sequence[RetrievedMemory]) -> str:
    cases = "\n\n".join(format_case(r.record.question, r.record.wrong_answer, r.record.guideline) for r in retrieved)
    return load_prompt("assistant_advise").format(cases=cases or "(none)", question=question.render())


class StudyAssistant:
    """Wraps any chat model; ``analyse`` explains a mistake, ``advise`` writes a guideline for a new question."""

    def __init__(self, model: Any, max_retries: int = 1, name: str | None = None) -> None:
        from salam.models.resolve import model_label, resolve_chat_model

        self.model = resolve_chat_model(model, max_new_tokens=CHAT_ASSISTANT_MAX_NEW_TOKENS) if isinstance(model, str) else model
        self.name = name or model_label(self.model)
        self.max_retries = max_retries
        self.stats = AssistantStats()

    # -- model calls ---------------------------------------------------------------------------
    def _complete(self, prompts: list[str], sampling: bool = False) -> list[str]:
        model = self.model
        if sampling and hasattr(model, "temperature") and hasattr(model, "model_copy"):
            model = model.model_copy(update={"temperature": 0.7})
        replies = model.batch(prompts, stop=ASSISTANT_STOP)
        return [str(r.content) for r in replies]

    def _feedback_for(self, prompts: list[str], questions: list[Question | None]) -> list[Feedback]:
        raws = self._complete(prompts)
        parsed = [parse_feedback(raw, ANALYSE_PREFIX) for raw in raws]
        attempts = [1] * len(prompts)
        for retry in range(self.max_retries):
            todo = [i for i, p in enumerate(parsed) if p is None]
            if not todo:
                break
            self.stats.retries += len(todo)
            again = self._complete([prompts[i] for i in todo], sampling=True)
            for i, raw in zip(todo, again):
                raws[i] = raw
                parsed[i] = parse_feedback(raw, ANALYSE_PREFIX)
                attempts[i] += 1
        out = []
        for raw, result, question, n in zip(raws, parsed, questions, attempts):
            self.stats.calls += 1
            if result is None:
                self.stats.parse_failures += 1
                out.append(Feedback(raw=raw, parse_ok=False, attempts=n))
                continue
            reason, guideline = result
            leaked = question is not None and (find_leak(guideline, question) or find_leak(reason, question))
            if leaked:
                self.stats.leaks += 1
                assert question is not None
                guideline, reason = redact(guideline, question), redact(reason, question)
            out.append(Feedback(reason=reason, guideline=guideline, raw=raw, parse_ok=True, leaked=leaked, attempts=n))
        return out

    # -- public API ----------------------------------------------------------------------------
    def analyse(self, question: Question, wrong_answer: str | None) -> Feedback:
        return self.analyse_many([(question, wrong_answer)])[0]

    def analyse_many(self, mistakes: Sequence[tuple[Question, str | None]]) -> list[Feedback]:
        """Feedback for each (question, wrong answer); batched through the model's ``batch``."""
        if not mistakes:
            return []
        prompts = [analyse_prompt(q, wrong) for q, wrong in mistakes]
        return self._feedback_for(prompts, [q for q, _ in mistakes])

    def advise_many(self, items: Sequence[tuple[Question, Sequence[RetrievedMemory]]]) -> list[Feedback]:
        """A guideline for each new question from its retrieved mistakes (the ``agent`` condition).

        The new question's answer is unknown to the system, so there is nothing for the leakage
        guard to check; parsing and the bounded retry still apply.
        """
        if not items:
            return []
        prompts = [advise_prompt(q, r) for q, r in items]
        return self._feedback_for(prompts, [None] * len(items))
