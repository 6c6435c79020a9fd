"""Any causal LM as the base: a tiny randomly initialised Llama built here (no download) trains with SFT and one
STaSC iteration and answers through its spec; LoRA targets come from its own layers; dtype flows from one place."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    from helpers import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_lora_targets_are_the_models_own_linear_layers_and_a_wrong_one_names_them(tiny_llama):
    from transformers import AutoModelForCausalLM

    from salam.errors import SalamError
    from salam.train.base import lora_targets

    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama))
    assert lora_targets(model, []) == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    assert lora_targets(model, ["q_proj", "v_proj"]) == ["q_proj", "v_proj"]
    with pytest.raises(SalamError, match=r"--lora-targets c_attn: no such linear layer in this model; it has down_proj, "):
        lora_targets(model, ["c_attn"])


def test_the_seed_decides_the_starting_lora_weights(tmp_path, tiny_llama):
    """LoRA's A matrices start random: two runs with one seed start alike (so one process and two train the same
    model), another seed starts elsewhere."""
    import torch

    from salam.train.base import prepare_model
    from salam.train.sft import SFTTrainConfig

    def start(seed: int, before: int) -> list:
        torch.manual_seed(before)  # whatever the process had drawn before
        model, _, _ = prepare_model(SFTTrainConfig(out=tmp_path, base=f"hf:{tiny_llama}", seed=seed), full=False)
        return [p.detach().clone() for n, p in model.named_parameters() if "lora_A" in n]

    first, again, other = start(0, 1), start(0, 2), start(1, 1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


@pytest.mark.slow
def test_a_non_gemma_base_trains_sft_and_a_stasc_iteration_and_answers_through_its_spec(tmp_path, data_dir, tiny_llama):
    from salam.answering.answerer import Answerer
    from salam.models import resolve_chat_model
    from salam.train.base import training_questions
    from salam.train.sft import SFTTrainConfig, train_sft
    from salam.train.stasc import StascConfig, train_stasc

    config = SFTTrainConfig(out=tmp_path / "sft", base=f"hf:{tiny_llama}", tasks=["Age"], limit=8, validation=4,
                            max_steps=2, batch_size=4, data_dir=str(data_dir), lora_targets=["q_proj", "v_proj"])
    manifest = train_sft(config)
    assert manifest["spec"] == f"hf:{tmp_path / 'sft' / 'model'}"
    setup = manifest["training_setup"]
    assert setup["lora_targets"] == ["q_proj", "v_proj"] and setup["weights_dtype"] == "float32" and setup["processes"] == 1
    _, validation = training_questions(config)
    attempts = Answerer(resolve_chat_model(manifest["spec"]), "choice").answer([(q, "") for q in validation])
    assert all(a.answer in q.letters for a, q in zip(attempts, validation))
    summary = train_stasc(StascConfig(out=tmp_path / "stasc", init=manifest["spec"], tasks=["Age"], limit=4, iterations=1,
                                      max_steps=1, batch_size=4, temperature=1.0, filter="non-decreasing",
                                      data_dir=str(data_dir)), log=lambda m: None)
    assert summary["spec"] == f"hf:{tmp_path / 'stasc' / 'iter-1' / 'model'}"
    assert Answerer(resolve_chat_model(summary["spec"]), "choice").answer([(validation[0], "")])[0].answer in validation[0].letters


def test_a_number_format_this_machine_cannot_train_in_is_one_line(tmp_path, monkeypatch):
    from salam.errors import SalamError
    from salam.train import precision
    from salam.train.sft import SFTTrainConfig

    monkeypatch.setattr(precision, "_has_accelerator", lambda: False)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    with pytest.raises(SalamError, match="^--dtype bfloat16: this CPU has no bfloat16 instructions"):
        SFTTrainConfig(out=tmp_path / "x", dtype="bfloat16")
    with pytest.raises(SalamError, match="^--dtype float16 trains only on a GPU"):
        SFTTrainConfig(out=tmp_path / "x", dtype="float16")
    assert precision.resolve_dtype("auto") == "float32"
    assert not (tmp_path / "x").exists()


def test_an_offline_hub_base_is_one_line(tmp_path, monkeypatch):
    from salam.errors import SalamError
    from salam.train.base import check_base

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SalamError, match="cannot get model 'Qwen/Qwen2.5-1.5B-Instruct' from the Hugging Face hub"):
        check_base("hf:Qwen/Qwen2.5-1.5B-Instruct")


def test_dtype_flows_from_one_place():
    """No float32-only assumption left in salam/train/: only precision.py names number formats."""
    from pathlib import Path

    import salam.train

    root = Path(salam.train.__file__).parent
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "precision.py"
                 and any(word in p.read_text() for word in ('"float32"', "bf16=", "fp16=", "torch.float16", "torch.bfloat16"))]
    assert offenders == []
