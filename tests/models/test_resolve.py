"""Model specs: resolution, one-line errors, missing extras, instances passing through."""

from __future__ import annotations

import pytest
from helpers import cli

from salam.errors import MissingExtraError
from salam.models import resolve_chat_model
from salam.testing import ScriptedChatModel


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["nonsense", "", "hf:"])
def test_unknown_spec_is_a_one_line_error(spec):
    result = cli("ask", "hi", "--model", spec)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "local" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_extra_names_it():
    pytest.importorskip("langchain_core")
    try:
        import langchain_ollama  # noqa: F401
        pytest.skip("langchain-ollama is installed here")
    except ImportError:
        pass
    with pytest.raises(MissingExtraError, match=r"salam\[ollama\]"):
        resolve_chat_model("ollama:llama3.1:8b")
    result = cli("ask", "hi", "--model", "ollama:llama3.1:8b")
    assert result.returncode == 1 and "salam[ollama]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_unreadable_model_folder(tmp_path):
    with pytest.raises(Exception, match="not a transformers model folder"):
        resolve_chat_model(f"hf:{tmp_path}")
    result = cli("ask", "hi", "--model", f"hf:{tmp_path}")
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_instances_pass_through():
    model = ScriptedChatModel(replies=["x"])
    assert resolve_chat_model(model) is model


def test_openai_spec_builds_a_client_with_base_url():
    pytest.importorskip("langchain_openai")
    model = resolve_chat_model("openai:some-model", base_url="http://127.0.0.1:9/v1")
    assert "127.0.0.1:9" in str(model.openai_api_base)


def test_adapters_of_two_trainings_with_the_same_stage_name_get_different_labels(tmp_path):
    from salam.models.resolve import model_label, resolve_chat_model

    for run in ("score-a", "score-b"):
        (tmp_path / run / "stage2").mkdir(parents=True)
        (tmp_path / run / "stage2" / "adapter_config.json").write_text("{}")
    labels = [model_label(resolve_chat_model(f"local+lora:{tmp_path / run / 'stage2'}")) for run in ("score-a", "score-b")]
    assert labels == ["gemma-3-270m+lora:score-a/stage2", "gemma-3-270m+lora:score-b/stage2"]
