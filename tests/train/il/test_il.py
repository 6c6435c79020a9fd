"""Imitation learning: too few examples refused; a few real LoRA steps, then the adapter loads."""

from __future__ import annotations

import pytest
from helpers import gather_transcript

from salam.errors import SalamError


def test_too_few_examples_is_refused(tmp_path, memory):
    from salam.train.il.train import ILConfig, train_il

    with pytest.raises(SalamError, match="at least 64"):
        train_il(ILConfig(out=tmp_path / "out", transcripts=[gather_transcript(tmp_path, memory)]))


@pytest.mark.slow
def test_few_lora_steps_then_load_the_adapter(tmp_path, data_dir):
    from salam.assistant.assistant import StudyAssistant
    from salam.models import resolve_chat_model
    from salam.train.il.train import ILConfig, train_il
    from salam.types import Question

    out = tmp_path / "adapter"
    manifest = train_il(ILConfig(out=out, teacher=[data_dir / "salam" / "bbq_feedback_gpt4.json"], limit=18, max_steps=2,
                                 batch_size=1, grad_accum=1, min_examples=16, max_length=512, save_steps=1))
    assert (out / "adapter_config.json").is_file() and manifest["steps"] == 2
    assert manifest["counts"]["train"] == 16 and manifest["final_train_loss"] > 0 and manifest["peak_rss_mb"] > 0
    from salam.train.folder import TrainDir

    saved = TrainDir(out).manifest()
    assert saved["base_model_sha256"] and saved["data_sha256"] and saved["method"] == "il"
    assert saved["spec"] == f"local+lora:{out}"
    assert (out / "checkpoints").is_dir()
    model = resolve_chat_model(f"local+lora:{out}", max_new_tokens=24)
    assert model.model_name.startswith("gemma-3-270m+lora")
    q = Question(id="x", task="Age", text="A grandson and a grandfather met. Who was bad with phones?",
                 options=["The grandfather", "The grandson", "Cannot answer"], answer="C")
    fb = StudyAssistant(model).analyse(q, "A")
    assert fb.raw  # the adapted model generates through the normal path
