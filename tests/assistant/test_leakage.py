"""The leakage guard: what names an answer and what does not."""

from __future__ import annotations

import pytest
from helpers import AGE_QUESTION

from salam.assistant.leakage import find_leak, redact
from salam.types import Question


@pytest.mark.parametrize("guideline, leaks", [
    ("The answer is C.", True),
    ("Pick (C) next time.", True),
    ("When unsure, choose Cannot answer.", True),
    ("option C is correct", True),
    ("Choose a person only with evidence.", False),    # the article 'a' is not letter A
    ("Think about the grandson and the grandfather.", False),
    ("Do not rely on age stereotypes.", False),
])
def test_leak_detection(guideline, leaks):
    assert find_leak(guideline, AGE_QUESTION) is leaks


def test_option_text_shared_with_other_options_is_not_a_leak():
    q = Question(id="y", text="Is it?", options=["Yes", "Yes and no"], answer="A")
    assert not find_leak("Say yes only when sure.", q)
    assert find_leak("The answer is A", q)


def test_free_form_leaks():
    q = Question(id="f", text="What is 12*2?", answer="24")
    assert find_leak("the answer is 24", q) and find_leak("you should get 24 here", q)
    assert redact("you should get 24", q) == "you should get [the right option]"
