"""The two-attempt protocol and its metrics, with the scripted model and hand-computed numbers."""

from __future__ import annotations

import pytest
from helpers import rec

from salam.selfcorrect.metrics import summarise_two_attempts, two_attempt_metrics
from salam.selfcorrect.protocol import Guidelines, TwoAttemptRunner, correction_prompt
from salam.testing import ScriptedChatModel
from salam.types import Question


def _q(i: int, answer: str, task: str = "demo") -> Question:
    return Question(id=f"q{i}", task=task, text=f"Story {i}: who paid?", options=["Ann", "Bob", "Unknown"], answer=answer)


def test_the_correction_prompt_shows_the_first_answer_and_ends_where_the_final_one_goes():
    prompt = correction_prompt(_q(1, "B"), "A", guidance="Guidelines learned from similar past mistakes:\n- Read.\n\n")
    assert prompt.startswith("Guidelines learned") and "First answer: (A)" in prompt and prompt.endswith("Final answer: (")
    assert "First answer: 42\n" in correction_prompt(Question(id="f", text="6*7?", answer="42"), "42")
    assert "First answer: (none)" in correction_prompt(_q(1, "B"), None)


def test_hand_computed_flips():
    # 6 questions: t1 right on q0-q2; t2 fixes q3, q4 and breaks q2 → Δi→c 2/6, Δc→i 1/6, Δ +1/6
    answers = {0: ("A", "A"), 1: ("B", "B"), 2: ("C", "A"), 3: ("A", "B"), 4: ("A", "C"), 5: ("A", "A")}
    gold = {0: "A", 1: "B", 2: "C", 3: "B", 4: "C", 5: "B"}

    def reply(prompt: str) -> str:
        i = int(prompt.split("Story ")[1].split(":")[0])
        return f"{answers[i][1 if 'First answer' in prompt else 0]})"

    results = TwoAttemptRunner(ScriptedChatModel(reply_fn=reply), mode="generate").run([_q(i, gold[i]) for i in range(6)])
    assert [r.outcome for r in results] == ["c→c", "c→c", "c→i", "i→c", "i→c", "i→i"]
    m = two_attempt_metrics([(r.t1.correct, r.t2.correct) for r in results])
    assert m["acc_t1"] == pytest.approx(3 / 6) and m["acc_t2"] == pytest.approx(4 / 6)
    assert (m["delta"], m["delta_i_to_c"], m["delta_c_to_i"]) == (pytest.approx(1 / 6), pytest.approx(2 / 6), pytest.approx(1 / 6))
    assert (m["mcnemar_t2_vs_t1"]["b"], m["mcnemar_t2_vs_t1"]["c"]) == (1, 2)


def test_macro_is_the_mean_of_tasks_and_pooled_counts_questions():
    rows = [("a", True, True), ("a", False, True), ("b", True, False), ("b", True, False), ("b", False, False), ("b", True, True)]
    out = summarise_two_attempts(rows)
    assert out["per_task"]["a"]["delta"] == pytest.approx(0.5) and out["per_task"]["b"]["delta"] == pytest.approx(-0.5)
    assert out["macro"]["delta"] == pytest.approx(0.0) and out["pooled"]["delta"] == pytest.approx(-1 / 6)
    assert out["macro"]["n"] == 6 and out["macro"]["tasks"] == 2


def test_attempt_two_carries_the_memorys_guidelines_but_never_the_questions_own(memory):
    question = _q(1, "B")
    memory.add([rec("Story 9: who paid? Ann or Bob", guideline="Look for who handed over the money.", task="demo"),
                rec(question.render(), guideline="Own record: never shown.", task="demo")])
    model = ScriptedChatModel(reply_fn=lambda p: "B)" if "money" in p else "A)")
    result = TwoAttemptRunner(model, "generate", guidelines=Guidelines(memory, threshold=0.3)).run([question])[0]
    assert result.outcome == "i→c" and len(result.memories) == 1
    assert "Own record" not in model.prompts[1] and "Look for who handed over the money." in model.prompts[1]


def test_score_rows_carry_the_guidelines_in_attempt_two_only(memory):
    from salam.train.score.train import rows_for

    question = Question(id="q1", task="demo", text="Story 1: who paid? Ann or Bob", options=["Ann", "Bob"], answer="B")
    memory.add([rec("Story 9: who paid? Ann or Bob", guideline="Look for who handed over the money.", task="demo")])
    blocks = Guidelines(memory, threshold=0.3).block_map([question, _q(2, "A", task="other")])
    assert "money" in blocks["q1"] and blocks["q2"] == ""   # another task's question retrieves nothing
    row = rows_for([question], blocks)[0]
    assert "money" not in row["prompt1"] and all("Look for who handed over the money." in p for p in row["prompts2"])
    assert rows_for([question])[0]["prompts2"][0] == correction_prompt(question, "A")


def test_stasc_corrections_are_sampled_and_trained_with_the_guidelines_of_the_question(memory, monkeypatch):
    import random

    import numpy as np

    from salam.train import stasc

    question = Question(id="q1", task="demo", text="Story 1: who paid? Ann or Bob", options=["Ann", "Bob"], answer="B")
    memory.add([rec("Story 9: who paid? Ann or Bob", guideline="Look for who handed over the money.", task="demo")])
    seen: list[str] = []

    def distributions(model, prompts, questions, *rest):
        seen.extend(prompts)
        return [np.array([0.5, 0.5]) for _ in prompts]

    monkeypatch.setattr(stasc, "letter_distributions", distributions)
    config = stasc.StascConfig(out="unused", n_init=4, n_corr=4)
    pairs, _ = stasc.sample_pairs([question], None, None, config, random.Random(0), Guidelines(memory, threshold=0.3))
    assert "money" not in seen[0] and all("Look for who handed over the money." in p for p in seen[1:])
    examples, _ = stasc.keep(pairs, "improving")
    assert examples and all("Look for who handed over the money." in e.prompt for e in examples)
