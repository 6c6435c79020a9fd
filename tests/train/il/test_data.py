"""Imitation-learning data: successful exchanges only, teacher files parsed, deduped, leaks dropped."""

from __future__ import annotations

import json

from helpers import gather_transcript

from salam.assistant.assistant import ANALYSE_PREFIX
from salam.assistant.parsing import parse_feedback
from salam.train.il.data import build_examples, completion_for


def test_completion_continues_the_prompt_prefix():
    completion = completion_for("It guessed.", "Read the text.")
    assert parse_feedback(ANALYSE_PREFIX + completion) == ("It guessed.", "Read the text.")


def test_dataset_keeps_only_successful_exchanges(tmp_path, memory):
    train, val, report = build_examples([gather_transcript(tmp_path, memory)])
    assert report.counts["transcript exchanges"] == 12 and report.counts["successful exchanges"] == 10
    assert len(train) + len(val) == 10 and len(val) == 1
    example = train[0]
    assert example.prompt.endswith(ANALYSE_PREFIX) and "Model answer: (A)" in example.prompt
    assert json.loads(ANALYSE_PREFIX + example.completion)["guideline"] == "Check who the story says paid."


def test_teacher_feedback_is_parsed_deduped_and_leaks_dropped(data_dir):
    train, val, report = build_examples(teacher=[data_dir / "salam" / "bbq_feedback_gpt4.json"])
    c = report.counts
    assert c["teacher instances"] == 514 and c["teacher parsed"] == 514
    assert c["after leakage filter"] < c["after dedupe"]  # GPT-4 often names the 'unknown' option
    assert len(train) + len(val) == c["after leakage filter"]
    assert all(e.prompt.endswith(ANALYSE_PREFIX) and e.source == "teacher" for e in train)
