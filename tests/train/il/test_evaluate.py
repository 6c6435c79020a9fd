"""Assistant evaluation: feedback quality and downstream accuracy with scripted models."""

from __future__ import annotations


def test_eval_assistant_compares_feedback_quality_and_downstream_accuracy():
    from salam.testing import ScriptedChatModel
    from salam.train.il.evaluate import (
        assistants_markdown,
        evaluate_assistants,
        main_model_mistakes,
    )
    from salam.types import Question

    def question(i: int) -> Question:
        return Question(id=f"q{i}", task="demo", text=f"Story {i}: Ann met Bob at the market. Who paid?",
                        options=["Ann", "Bob", "Unknown"], answer="B")

    main = ScriptedChatModel(reply_fn=lambda p: "B) Bob" if "Guideline" in p else "A) Ann")
    heldout = main_model_mistakes([question(i) for i in range(100, 104)], main, answer_mode="generate")
    assert [w for _, w in heldout] == ["A"] * 4
    helpful = ScriptedChatModel(replies=['Check who the story says paid.", "reason": "It guessed."}'], name_="helpful")
    leaky = ScriptedChatModel(replies=['The answer is (B) Bob.", "reason": "It guessed."}'], name_="leaky")
    results = evaluate_assistants([helpful, leaky], heldout, [question(i) for i in range(6)], main,
                                  threshold=0.3, answer_mode="generate", embedder="hash-bow-64")
    assert results["none_accuracy"] == 0.0
    good, bad = results["assistants"]["helpful"], results["assistants"]["leaky"]
    assert (good["parse_valid_rate"], good["leak_rate"], good["feedback_accuracy"], good["feedback_with_memory"]) == (1.0, 0.0, 1.0, 6)
    assert good["feedback_vs_none"]["c"] == 6 and good["agent_accuracy"] == 1.0
    assert bad["leak_rate"] == 1.0  # every guideline named the true option: redacted, nothing stored
    assert bad["usable_rate"] == 0.0 and bad["feedback_with_memory"] == 0 and bad["feedback_accuracy"] == 0.0
    assert "| helpful | 100.0 | 0.0 |" in assistants_markdown(results, "salam train eval-assistant")
