"""Imitation learning: dataset building (fast) and a few real LoRA steps on real teacher feedback (slow)."""

from __future__ import annotations

import json

import pytest

from salam.assistant import ANALYSE_PREFIX
from salam.errors import SalamError
from salam.feedback_parsing import parse_feedback
from salam.train.dataset import build_examples, completion_for


def _transcript(tmp_path, memory):
    from salam.agent import gather
    from salam.assistant import StudyAssistant
    from salam.testing import ScriptedChatModel
    from salam.types import Question

    qs = [Question(id=f"q{i}", text=f"Story {i}: who paid?", options=["Ann", "Bob", "Unknown"], answer="B") for i in range(12)]
    main = ScriptedChatModel(reply_fn=lambda p: "B)" if "Guideline:" in p else "A)")
    helper = StudyAssistant(ScriptedChatModel(replies=['Check who the story says paid.", "reason": "guess"}']))
    path = tmp_path / "t.jsonl"
    gather(qs[:10], main, helper, memory, rounds=1, transcript=path)
    gather(qs[10:], ScriptedChatModel(replies=["A)"]), helper, memory, rounds=1, transcript=path)  # unfixed: not used
    return path


def test_completion_continues_the_prompt_prefix():
    completion = completion_for("It guessed.", "Read the text.")
    assert parse_feedback(ANALYSE_PREFIX + completion) == ("It guessed.", "Read the text.")


def test_dataset_keeps_only_successful_exchanges(tmp_path, memory):
    train, val, report = build_examples([_transcript(tmp_path, memory)])
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


def test_too_few_examples_is_refused(tmp_path, memory):
    from salam.train.il import ILConfig, train_il

    with pytest.raises(SalamError, match="at least 64"):
        train_il(ILConfig(out=tmp_path / "out", transcripts=[_transcript(tmp_path, memory)]))


@pytest.mark.slow
def test_few_lora_steps_then_load_the_adapter(tmp_path, data_dir):
    from salam.assistant import StudyAssistant
    from salam.models import resolve_chat_model
    from salam.train.il import ILConfig, train_il
    from salam.types import Question

    out = tmp_path / "adapter"
    manifest = train_il(ILConfig(out=out, teacher=[data_dir / "salam" / "bbq_feedback_gpt4.json"], limit=18, max_steps=2,
                                 batch_size=1, grad_accum=1, min_examples=16, max_length=512, save_steps=1))
    assert (out / "adapter_config.json").is_file() and manifest["steps"] == 2
    assert manifest["counts"]["train"] == 16 and manifest["final_train_loss"] > 0 and manifest["peak_rss_mb"] > 0
    saved = json.loads((out / "salam_il_manifest.json").read_text())
    assert saved["base_model_sha256"] and saved["data_sha256"]
    assert (out / "checkpoints").is_dir()
    model = resolve_chat_model(f"local+lora:{out}", max_new_tokens=24)
    assert model.model_name.startswith("gemma-3-270m+lora")
    q = Question(id="x", task="Age", text="A grandson and a grandfather met. Who was bad with phones?",
                 options=["The grandfather", "The grandson", "Cannot answer"], answer="C")
    fb = StudyAssistant(model).analyse(q, "A")
    assert fb.raw  # the adapted model generates through the normal path


def test_eval_assistant_compares_feedback_quality_and_downstream_accuracy():
    from salam.testing import ScriptedChatModel
    from salam.train.evaluate import evaluate_assistants, main_model_mistakes, markdown
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
    assert "| `helpful` | 100.0 | 0.0 |" in markdown(results, "salam train eval-assistant")
