"""The answerer: modes, prompt endings, length-sorted batches."""

from __future__ import annotations

import pytest
from helpers import story_question

from salam.answering.answerer import answer_prompt
from salam.testing import ScriptedChatModel
from salam.types import Question


def test_choice_mode_needs_a_model_that_scores_letters():
    from salam.answering.answerer import Answerer
    from salam.errors import SalamError

    with pytest.raises(SalamError, match="scores letters"):
        Answerer(ScriptedChatModel(replies=["B"]), mode="choice")


def test_prompts_end_exactly_where_the_answer_goes():
    assert answer_prompt(story_question(1)).endswith("\nAnswer: (")
    assert answer_prompt(Question(id="f", text="2+2?", answer="4")).endswith("\nAnswer:")
    from salam.assistant.assistant import analyse_prompt

    assert analyse_prompt(story_question(1), "A").endswith('Feedback: {"guideline": "')


def test_answers_are_batched_by_prompt_length_and_returned_in_order():
    from salam.answering.answerer import Answerer

    seen_batches: list[list[int]] = []

    class Recording(ScriptedChatModel):
        def batch(self, inputs, config=None, **kwargs):  # type: ignore[override]
            seen_batches.append([len(p) for p in inputs])
            return super().batch(inputs, config, **kwargs)

    model = Recording(reply_fn=lambda p: "A) Ann" if "long" in p else "B) Bob")
    items = [(story_question(i), ("long guidance " * 20 + "\n") if i % 2 else "") for i in range(6)]
    attempts = Answerer(model, "generate", batch_size=3).answer(items)
    assert [a.answer for a in attempts] == ["B", "A", "B", "A", "B", "A"]
    assert [a.prompt for a in attempts] == [answer_prompt(qq, g) for qq, g in items]
    # The three long prompts share a batch, the three short ones another: no padding to the longest.
    assert len(seen_batches) == 2 and min(seen_batches[0]) > max(seen_batches[1])


def test_choice_mode_returns_the_letter_itself():
    from salam.answering.answerer import Answerer

    class LetterScorer(ScriptedChatModel):
        def format_prompt(self, messages):
            return messages[0].content

        def score_options(self, prompts, choices):
            return [[0.0, 1.0, 0.5][: len(c)] for c in choices]

        def count_tokens(self, prompts):
            return [len(p.split()) for p in prompts]

    attempt = Answerer(LetterScorer(), mode="choice").answer([(story_question(1), "")])[0]
    assert (attempt.output, attempt.answer, attempt.correct) == ("B", "B", True)


def test_an_unknown_answer_mode_is_refused():
    from salam.answering.answerer import Answerer
    from salam.errors import SalamError

    with pytest.raises(SalamError, match="generate, choice or cot"):
        Answerer(ScriptedChatModel(replies=["B"]), mode="bogus")  # type: ignore[arg-type]
