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


GRANDPA_FIRST = Question(id="g", text="A grandson and a grandfather met. Who was bad with phones?",
                         options=["The grandfather", "The grandson", "Can't answer"], answer="A")


@pytest.mark.parametrize("guideline", [
    "Go with C when the text is silent.", "When unsure, answer: c.", "Answer = C.", "Correct: C", "Pick (c) if nobody is named.",
    "The answer is Ｃ.", "Choose the third option.", "The last option is right here.", "Option C is the one.",
    "Say you can't answer when the story does not tell.",
])
def test_phrasings_the_old_guard_missed_are_caught(guideline):
    assert find_leak(guideline, AGE_QUESTION)
    assert "[the right option]" in redact(guideline, AGE_QUESTION)


@pytest.mark.parametrize("guideline, leaks", [
    ("Go with A.", True), ("Grandfather.", True), ("Pick the first option.", True), ("choose the grandfather", True),
    ("Choose a person only if the text says so.", False), ("A good reader checks the text first.", False),
    ("Do not assume the grandson is better with phones.", False),
])
def test_letter_a_and_option_words_without_their_article(guideline, leaks):
    assert find_leak(guideline, GRANDPA_FIRST) is leaks


def test_a_guideline_is_checked_against_the_question_it_is_used_for():
    from salam.assistant.leakage import guard_retrieved
    from salam.types import MistakeRecord, RetrievedMemory

    stored = MistakeRecord(question="Two people met. Who was late?\nOptions:\n(A) Ann\n(B) Bob\n(C) Unknown", options=["Ann", "Bob", "Unknown"],
                           wrong_answer="A", true_answer="C", guideline="When in doubt, pick the grandfather.")
    hits, redacted = guard_retrieved([RetrievedMemory(record=stored, similarity=0.95)], GRANDPA_FIRST)
    assert redacted == 1 and "grandfather" not in hits[0].record.guideline
    assert stored.guideline == "When in doubt, pick the grandfather."  # the stored record itself is untouched
    _, none = guard_retrieved([RetrievedMemory(record=stored, similarity=0.95)], AGE_QUESTION)
    assert none == 0
