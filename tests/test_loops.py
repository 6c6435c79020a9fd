"""Gather and examine with the scripted model: rounds, transcripts, the six conditions, resume."""

from __future__ import annotations

import pytest
from helpers import story_question

from salam.answering.answerer import answer_prompt
from salam.assistant.assistant import StudyAssistant
from salam.conditions import CONDITION_NAMES
from salam.loops import examine, gather, read_transcript
from salam.testing import ScriptedChatModel
from salam.types import MistakeRecord

GUIDE = "Answer only from facts stated in the text."


def main_model() -> ScriptedChatModel:
    """Wrong ("A") without a guideline, right ("B") once a guideline is in the prompt."""
    return ScriptedChatModel(reply_fn=lambda p: "B) Bob" if "Guideline:" in p else "A) Ann")


def assistant_model(text: str = GUIDE) -> StudyAssistant:
    return StudyAssistant(ScriptedChatModel(replies=[f'{text}", "reason": "It guessed."}}']))


def _seed_memory(memory):
    memory.add([
        MistakeRecord(task="demo", question=story_question(90).render(), options=story_question(90).options, wrong_answer="A", true_answer="B",
                      guideline="Use only stated facts.", reason="guessed"),
        MistakeRecord(kind="solved", task="demo", question=story_question(91).render(), options=story_question(91).options, true_answer="B"),
    ])


def test_mistake_fixed_on_round_two_is_a_successful_exchange(memory, tmp_path):
    transcript = tmp_path / "t.jsonl"
    report = gather([story_question(1), story_question(2, answer="A")], main_model(), assistant_model(), memory, rounds=2, transcript=transcript)
    assert (report.fixed, report.correct_first, report.unfixed) == (1, 1, 0)
    exchanges = {ex.question.id: ex for ex in read_transcript(transcript)}
    fixed = exchanges["q1"]
    assert fixed.successful and fixed.outcome == "fixed"
    assert [a.round for a in fixed.attempts] == [1, 2] and [a.correct for a in fixed.attempts] == [False, True]
    assert fixed.attempts[1].guideline == GUIDE and "Guideline: " + GUIDE in fixed.attempts[1].prompt
    assert fixed.feedback[0].guideline == GUIDE and fixed.main_model == "scripted"
    assert not exchanges["q2"].successful
    record = memory.get(fixed.memory_ids[0])
    assert (record.wrong_answer, record.true_answer, record.guideline, record.source) == ("A", "B", GUIDE, "gather")
    assert memory.count(kind="solved") == 1


def test_unfixed_after_all_rounds(memory, tmp_path):
    stubborn = ScriptedChatModel(replies=["A) Ann"])
    report = gather([story_question(1)], stubborn, assistant_model(), memory, rounds=3, transcript=tmp_path / "t.jsonl")
    ex = report.exchanges[0]
    assert ex.outcome == "unfixed" and len(ex.attempts) == 4 and len(ex.feedback) == 3
    assert memory.count(kind="mistake") == 1  # the same mistake thrice is one record


def test_resume_after_crash_skips_finished_and_duplicates_nothing(memory, tmp_path):
    transcript = tmp_path / "t.jsonl"
    questions = [story_question(i) for i in range(10)]
    calls = {"n": 0}

    def crashing(prompt: str) -> str:
        calls["n"] += 1
        if calls["n"] > 10:  # a chunk of 4 costs 8 calls: crash inside the second chunk
            raise RuntimeError("power cut")
        return "B) Bob" if "Guideline:" in prompt else "A) Ann"

    with pytest.raises(RuntimeError):
        gather(questions, ScriptedChatModel(reply_fn=crashing), assistant_model(), memory, rounds=1,
               transcript=transcript, batch_size=4)
    with transcript.open("a") as fh:
        fh.write('{"question": {"id": "torn')  # a torn last line from the crash
    first = {ex.question.id for ex in read_transcript(transcript)}
    assert first == {"q0", "q1", "q2", "q3"}
    model = main_model()
    report = gather(questions, model, assistant_model(), memory, rounds=1, transcript=transcript, batch_size=4)
    assert report.skipped == 4 and report.fixed == 6
    ids = [ex.question.id for ex in read_transcript(transcript)]
    assert sorted(ids) == sorted(f"q{i}" for i in range(10)) and len(ids) == len(set(ids))
    assert memory.count(kind="mistake") == 10
    assert not any("Story 0:" in p for p in model.prompts)


@pytest.mark.parametrize("condition", CONDITION_NAMES)
def test_each_condition_builds_its_prompt(memory, condition):
    _seed_memory(memory)
    model = ScriptedChatModel(replies=["B) Bob"])
    helper = assistant_model("Check who the story says bought apples.")
    results = examine([story_question(1)], model, memory, condition=condition, k=2, threshold=0.3, assistant=helper)
    prompt = results[0].prompt
    assert prompt.endswith(answer_prompt(story_question(1)))  # the question always comes last, unchanged
    expected = {
        "none": [],
        "correct": ["Story 91", "Answer: (B)"],
        "mistake": ["Story 90", "Wrong answer: (A)", "Correct answer: (B)"],
        "feedback": ["Story 90", "Wrong answer: (A)", "Guideline: Use only stated facts."],
        "feedback_only": ["- Use only stated facts."],
        "agent": ["Guideline: Check who the story says bought apples."],
    }[condition]
    for fragment in expected:
        assert fragment in prompt
    if condition == "none":
        assert prompt == answer_prompt(story_question(1)) and results[0].memories == []
    if condition == "feedback_only":
        assert "Story 90" not in prompt and "Correct answer" not in prompt
    if condition in ("feedback", "feedback_only", "agent"):
        assert "Correct answer" not in prompt
    if condition != "none":
        assert results[0].memories and results[0].memories[0].similarity >= 0.3


def test_examine_records_outcomes(memory):
    _seed_memory(memory)
    results = examine([story_question(1)], ScriptedChatModel(replies=["B) Bob"]), memory, condition="feedback", k=1, threshold=0.3)
    record = memory.get(results[0].memories[0].id)
    assert results[0].correct and (record.retrieved, record.helped, record.hurt) == (1, 1, 0)


def test_threshold_blocks_weak_matches(memory):
    _seed_memory(memory)
    results = examine([story_question(1)], ScriptedChatModel(replies=["B"]), memory, condition="feedback", k=1, threshold=0.999)
    assert results[0].memories == [] and results[0].prompt == answer_prompt(story_question(1))


def test_agent_condition_needs_an_assistant(memory):
    from salam.errors import SalamError

    with pytest.raises(SalamError, match="assistant"):
        examine([story_question(1)], ScriptedChatModel(replies=["B"]), memory, condition="agent")


def test_a_guideline_naming_the_answer_is_redacted_before_the_prompt_and_counted(memory):
    memory.add([MistakeRecord(task="demo", question=story_question(90).render(), options=story_question(90).options,
                              wrong_answer="A", true_answer="C", guideline="Go with Bob when it is about apples.")])
    model = ScriptedChatModel(replies=["B) Bob"])
    result = examine([story_question(1)], model, memory, condition="feedback", k=1, threshold=0.3)[0]
    assert result.redacted == 1 and "Bob when" not in model.prompts[0] and "[the right option]" in model.prompts[0]
