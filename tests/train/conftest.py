"""Fixtures of the training tests."""

import pytest


@pytest.fixture(scope="session")
def tiny_gemma():
    """A two-layer, randomly initialised Gemma 3 with the embedded model's tokenizer and chat template."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from salam.models.embedded import ensure_embedded_model

    folder = ensure_embedded_model()
    config = AutoConfig.from_pretrained(folder)
    config.update({"num_hidden_layers": 2, "layer_types": ["sliding_attention", "full_attention"], "hidden_size": 64,
                   "intermediate_size": 128, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32})
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config).float(), AutoTokenizer.from_pretrained(folder)
