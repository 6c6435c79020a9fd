"""The study assistant: prompts, parsing, bounded retry, redaction of leaks."""

from __future__ import annotations

from helpers import AGE_QUESTION

from salam.assistant.assistant import StudyAssistant, analyse_prompt
from salam.assistant.leakage import find_leak
from salam.testing import ScriptedChatModel


def test_analyse_prompt_hides_nothing_it_should_show():
    prompt = analyse_prompt(AGE_QUESTION, "A")
    assert "Model answer: (A)" in prompt and "Correct answer: (C)" in prompt
    assert prompt.rstrip().endswith('Feedback: {"guideline": "')


def test_analyse_parses_and_keeps_raw():
    model = ScriptedChatModel(replies=['Read the text for facts.", "reason": "It guessed."}'])
    fb = StudyAssistant(model).analyse(AGE_QUESTION, "A")
    assert fb.usable and fb.guideline == "Read the text for facts." and fb.reason == "It guessed."
    assert fb.raw.startswith("Read the text")


def test_bounded_retry_then_failure_is_counted():
    model = ScriptedChatModel(replies=['{"nothing": 1}'])
    assistant = StudyAssistant(model, max_retries=2)
    fb = assistant.analyse(AGE_QUESTION, "A")
    assert not fb.parse_ok and fb.attempts == 3 and len(model.prompts) == 3
    assert assistant.stats.parse_failures == 1


def test_leaking_guideline_is_redacted_and_counted():
    model = ScriptedChatModel(replies=['Choose Cannot answer when unsure.", "reason": "x"}'])
    assistant = StudyAssistant(model)
    fb = assistant.analyse(AGE_QUESTION, "A")
    assert fb.leaked and assistant.stats.leaks == 1
    assert "Cannot answer" not in fb.guideline and not find_leak(fb.guideline, AGE_QUESTION)
    assert not fb.usable
