"""Parsing the assistant's replies, whatever shape they come in."""

from __future__ import annotations

import json
import random
import string

import pytest
from helpers import AGE_QUESTION

from salam.assistant.assistant import StudyAssistant
from salam.assistant.parsing import parse_feedback
from salam.testing import ScriptedChatModel


@pytest.mark.parametrize("raw, expected", [
    ('{"reason": "r1", "guideline": "Read the g1 text."}', ("r1", "Read the g1 text.")),
    ('```json\n{"reason": "r2", "guideline": "Check g2 twice."}\n```', ("r2", "Check g2 twice.")),
    ("Sure! Reason: r3\nGuideline: Track each g3 step.", ("r3", "Track each g3 step.")),
    ('Say g4 only.", "reason": "r4"}', ("r4", "Say g4 only.")),   # continuation of '{"guideline": "'
    ("Check the facts.", ("", "Check the facts.")),          # continuation cut by a stop string
])
def test_parse_shapes(raw, expected):
    assert parse_feedback(raw, '{"guideline": "') == expected


def test_parse_rejects_garbage_without_prefix():
    assert parse_feedback("no keys here at all") is None
    assert parse_feedback('{"reason": "only a reason"}') is None


def test_thousand_malformed_outputs_never_crash():
    rng = random.Random(7)
    alphabet = string.printable + "{}[]\":,`ñ€"
    pieces = ['{"guideline":', '"reason"', "```", "{", "}", "Guideline", ":", "\\", '"']
    samples = []
    for _ in range(1000):
        parts = [rng.choice(pieces) if rng.random() < 0.3 else "".join(rng.choices(alphabet, k=rng.randint(0, 30)))
                 for _ in range(rng.randint(0, 8))]
        text = "".join(parts)
        # keep only strings with no recoverable guideline: each must count as a failure
        if parse_feedback(text, '{"guideline": "') is None and parse_feedback(text) is None:
            samples.append(text)
        else:
            samples.append("".join(ch for ch in text if ch not in "{}\":=-*") .replace("Guideline", "").replace("guideline", "") + "\x00")
    samples = [s if parse_feedback(s) is None else "" for s in samples]
    model = ScriptedChatModel(replies=samples)
    assistant = StudyAssistant(model, max_retries=0)

    # the model continues '{"guideline": "' so wrap each sample to make it unparseable with the prefix too
    assistant._complete = lambda prompts, sampling=False: [  # type: ignore[method-assign]
        '"' + model.invoke(p).content for p in prompts]
    feedback = assistant.analyse_many([(AGE_QUESTION, "A")] * 1000)
    assert len(feedback) == 1000
    assert assistant.stats.parse_failures == sum(1 for f in feedback if not f.parse_ok)
    assert assistant.stats.parse_failures >= 990
    assert all(f.raw is not None for f in feedback)


def test_teacher_feedback_json_parses():
    raw = json.dumps({"reason": "r", "guideline": "Read carefully."})
    assert parse_feedback(raw) == ("r", "Read carefully.")
