"""The main model answers questions, with optional guidance, in ``generate`` or ``choice`` mode."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

from salam._util.assets import load_prompt
from salam.answering.cot import COT_MAX_NEW_TOKENS, Exemplars, no_exemplars
from salam.answering.scoring import extract_answer, is_correct
from salam.defaults import BATCH_SIZE
from salam.errors import SalamError
from salam.types import Attempt, Question

AnswerMode = Literal["generate", "choice", "cot"]
ANSWER_STOP = ["\n"]


def answer_prompt(question: Question, guidance: str = "", note: str = "") -> str:
    """The main model's prompt: guidance block, question, any note about this attempt (a revision's "judged wrong"),
    and ``Answer: (`` for multiple choice. The note comes after the question so that every turn on a question
    begins with the same tokens (training reads them once: :mod:`salam.train.grouped_letters`)."""
    prefix = " (" if question.is_multiple_choice else ""
    return load_prompt("answer").format(guidance=guidance, question=question.render(), note=note, answer_prefix=prefix)


def check_letter_scoring(model: Any) -> None:
    """Refuse (one line) a model that cannot score option letters; a served model is asked once whether it can."""
    if not hasattr(model, "score_options"):
        raise SalamError("--answer-mode choice needs a model that scores letters: local, hf:..., local+lora:..., or "
                         "openai:MODEL with --base-url (an OpenAI-compatible server's logprobs); use generate")
    check = getattr(model, "check_scoring", None)
    if callable(check):
        check()


@dataclass
class Answerer:
    """Answers batches of (question, guidance) with one model call per batch.

    ``choice`` mode scores the option letters from one forward pass (local models only), the
    way lm-evaluation-harness does; ``generate`` mode lets the model write one line and extracts the
    answer; ``cot`` mode has it reason in steps after the task's few-shot chain-of-thought prompt
    (:mod:`salam.answering.cot`, its ``exemplars``) and takes its final ``So the answer is X``.
    """

    model: Any
    mode: AnswerMode = "generate"
    batch_size: int = BATCH_SIZE
    exemplars: Exemplars = no_exemplars
    """Each task's few-shot block in ``cot`` mode (the bench passes BBH's: ``salam.data.bbh.cot_exemplars_for``)."""
    max_new_tokens: int = COT_MAX_NEW_TOKENS
    """Tokens a chain-of-thought answer may write (local models; a provider model keeps its own max_tokens)."""

    def __post_init__(self) -> None:
        if self.mode not in ("generate", "choice", "cot"):
            raise SalamError(f"answer mode must be generate, choice or cot, not {self.mode!r}")
        if self.mode == "choice":
            check_letter_scoring(self.model)

    def answer(
        self, items: Sequence[tuple[Question, str]], round_: int = 1, guidelines: Sequence[str | None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Attempt]:
        """Attempts in the order of ``items``.

        Batches are formed from prompts sorted by length (longest first), as lm-evaluation-harness
        does: a left-padded batch costs as much as its longest prompt times its size, so mixing a few
        long memory-augmented prompts with short plain ones would make every batch pay for padding.
        """
        return self.answer_prompts([q for q, _ in items], [self.prompt(q, g) for q, g in items], round_, guidelines, progress)

    def prompt(self, question: Question, guidance: str = "", note: str = "") -> str:
        """The prompt this answerer's mode asks ``question`` with (``note``: a line between question and answer)."""
        if self.mode == "cot":
            from salam.answering.cot import cot_prompt

            return cot_prompt(question, guidance, self.exemplars(question.task), note)
        return answer_prompt(question, guidance, note)

    def answer_prompts(
        self, questions: Sequence[Question], prompts: Sequence[str], round_: int = 1,
        guidelines: Sequence[str | None] | None = None, progress: Callable[[int], None] | None = None,
    ) -> list[Attempt]:
        """Attempts for ready-made prompts (e.g. a second attempt), one per question, in order."""
        guidelines = guidelines or [None] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        attempts: list[Attempt | None] = [None] * len(prompts)
        # A served model takes the whole call: its requests stream through its own bounded pool.
        size = max(1, len(order)) if hasattr(self.model, "max_concurrency") else self.batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = [questions[i] for i in chunk]
            began = time.perf_counter()
            outputs, tokens = self._run([prompts[i] for i in chunk], batch)
            per_item = (time.perf_counter() - began) / max(1, len(chunk))
            for i, question, output, n_tokens in zip(chunk, batch, outputs, tokens):
                extracted = self._extract(question, output)
                attempts[i] = Attempt(
                    round=round_, prompt=prompts[i], output=output, answer=extracted,
                    correct=is_correct(question, extracted), guideline=guidelines[i],
                    tokens=n_tokens, latency_s=round(per_item, 4),
                )
            if progress:
                progress(len(chunk))
        return [a for a in attempts if a is not None]

    def _extract(self, question: Question, output: str) -> str | None:
        if self.mode == "cot":
            from salam.answering.cot import extract_cot

            return extract_cot(question, output)
        return extract_answer(question, output)

    def _run(self, prompts: list[str], questions: list[Question]) -> tuple[list[str], list[int]]:
        if self.mode == "choice" and all(q.is_multiple_choice for q in questions):
            from langchain_core.messages import HumanMessage

            formatted = [self.model.format_prompt([HumanMessage(p)]) for p in prompts]
            scores = self.model.score_options(formatted, [q.letters for q in questions])
            outputs = [q.letters[max(range(len(s)), key=s.__getitem__)] for q, s in zip(questions, scores)]
            return outputs, self.model.count_tokens(formatted)
        if self.mode == "cot":
            from salam.answering.cot import ANSWER_END, COT_STOP

            # Local models take a per-call token budget and stop right after the stated answer (the exemplars
            # state it once, last); a provider model keeps its own max_tokens.
            extra = {"max_new_tokens": self.max_new_tokens, "stop_pattern": ANSWER_END} if hasattr(self.model, "generate_texts") \
                and not hasattr(self.model, "max_concurrency") else {}
            replies = self.model.batch(prompts, stop=COT_STOP, **extra)
        else:
            replies = self.model.batch(prompts, stop=ANSWER_STOP)
        outputs = [str(r.content) for r in replies]
        tokens = [int((getattr(r, "usage_metadata", None) or {}).get("total_tokens", 0)) for r in replies]
        return outputs, tokens
