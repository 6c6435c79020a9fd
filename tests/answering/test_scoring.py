"""Answer extraction and scoring: what small models write, letters and free answers."""

from __future__ import annotations

import pytest

from salam.answering.scoring import extract_choice, extract_free, is_correct
from salam.types import Question


@pytest.mark.parametrize("output, expected", [
    ("B) The grandson", "B"), ("C", "C"), ("A.", "A"), ("The answer is (B).", "B"), (" the answer is B", "B"),
    ("(C) Can't be determined", "C"), ("Answer: C", "C"), ("I think the grandson did it", "B"),
    ("xyz", None), ("", None), ("Option A is wrong but maybe", "A"),
])
def test_choice_extraction_shapes(output, expected):
    assert extract_choice(output, ["A", "B", "C"], ["The grandfather", "The grandson", "Can't be determined"]) == expected


def test_real_model_output_shapes():
    # outputs the embedded model wrote after "Answer: (" in generate mode
    letters, options = ["A", "B", "C"], ["The 22-year-old", "Cannot be determined", "The 40-year-old"]
    assert extract_choice("A) The 22-", letters, options) == "A"
    assert extract_choice("B)\nQuestion: Who", letters, options) == "B"
    assert extract_choice("1) The 40-year-old", letters, options) == "C"


def test_free_form_scoring():
    q = Question(id="x", text="?", answer="Yes")
    assert is_correct(q, extract_free("yes.")) and is_correct(q, extract_free("The answer is Yes"))
    assert not is_correct(q, extract_free("No")) and not is_correct(q, None)
