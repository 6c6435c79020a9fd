"""Package surface: public names, lazy imports, model resolution, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import salam
from salam.errors import MissingExtraError, ModelSpecError
from salam.models import resolve_chat_model
from salam.testing import ScriptedChatModel

PUBLIC = [
    "Attempt", "ExamResult", "Exchange", "Feedback", "MistakeMemory", "MistakeRecord", "Question",
    "RetrievedMemory", "SalamError", "StudyAssistant", "__version__", "assist", "examine", "gather",
    "resolve_chat_model",
]


def test_public_names_are_pinned():
    assert sorted(salam.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(salam, name) is not None


def test_cli_import_is_lazy():
    code = (
        "import sys, salam.cli.main\n"
        "heavy = ['torch', 'transformers', 'trl', 'peft', 'chromadb', 'sentence_transformers']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "salam.cli.main", *args], capture_output=True, text=True, timeout=300, **kw)


def test_version_and_help():
    assert _cli("version").stdout.strip() == salam.__version__
    assert "memory" in _cli("--help").stdout


@pytest.mark.parametrize("spec", ["nonsense", "", "hf:"])
def test_unknown_spec_is_a_one_line_error(spec):
    result = _cli("ask", "hi", "--model", spec)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "local" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("bench", "bbq", "--limit", "abc"), ("train", "eval-assistant", "--assistant", "local",
                                                                     "--train-offset", "-3"), ("nosuch",)])
def test_bad_option_values_are_usage_errors_not_tracebacks(args):
    result = _cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Error: " in result.stderr


def test_missing_extra_names_it():
    pytest.importorskip("langchain_core")
    try:
        import langchain_ollama  # noqa: F401
        pytest.skip("langchain-ollama is installed here")
    except ImportError:
        pass
    with pytest.raises(MissingExtraError, match=r"salam\[ollama\]"):
        resolve_chat_model("ollama:llama3.1:8b")
    result = _cli("ask", "hi", "--model", "ollama:llama3.1:8b")
    assert result.returncode == 1 and "salam[ollama]" in result.stderr and "Traceback" not in result.stderr


def test_unreadable_model_folder(tmp_path):
    with pytest.raises(Exception, match="not a transformers model folder"):
        resolve_chat_model(f"hf:{tmp_path}")
    result = _cli("ask", "hi", "--model", f"hf:{tmp_path}")
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_unreadable_cache_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    """A half-written cache folder (no completion marker) is never loaded as a model."""
    from salam.models import embedded

    monkeypatch.setenv("SALAM_HOME", str(tmp_path))
    target = embedded.embedded_model_dir()
    target.mkdir(parents=True)
    (target / "config.json").write_text("{truncated")
    called = {}
    monkeypatch.setattr(embedded, "_convert", lambda t: called.setdefault("path", t))
    assert embedded.ensure_embedded_model() == target
    assert called["path"] == target and not (target / "config.json").exists()


def test_instances_pass_through():
    model = ScriptedChatModel(replies=["x"])
    assert resolve_chat_model(model) is model


def test_scripted_model_replies_and_records_prompts():
    model = ScriptedChatModel(replies=["one", "two"])
    assert [model.invoke("a").content, model.invoke("b").content, model.invoke("c").content] == ["one", "two", "one"]
    assert model.prompts == ["human: a", "human: b", "human: c"]
    fn = ScriptedChatModel(reply_fn=lambda p: p.upper())
    reply = fn.invoke("hey")
    assert reply.content == "HUMAN: HEY" and reply.usage_metadata["total_tokens"] > 0


def test_hash_embedder_is_deterministic_and_normalised(hash_embedder):
    import numpy as np

    a = hash_embedder.embed(["the cat sat", "the cat sat", "dogs run"])
    assert np.allclose(a[0], a[1]) and np.isclose(np.linalg.norm(a[2]), 1.0)
    assert float(a[0] @ a[1]) > float(a[0] @ a[2])


def test_openai_spec_builds_a_client_with_base_url():
    pytest.importorskip("langchain_openai")
    model = resolve_chat_model("openai:some-model", base_url="http://127.0.0.1:9/v1")
    assert "127.0.0.1:9" in str(model.openai_api_base)


@pytest.mark.slow
def test_local_model_invoke_batch_and_scores(local_model):
    reply = local_model.invoke("Which is larger, 7 or 9? Answer:")
    assert isinstance(reply.content, str) and reply.usage_metadata["output_tokens"] > 0
    prompts = ["Q: What is the capital of France?\nA:", "Q: 2+2=?\nA:", "Q: Name a color.\nA:"]
    batched = [m.content for m in local_model.batch(prompts)]
    single = [local_model.invoke(p).content for p in prompts]
    assert batched == single  # greedy, left-padded batching changes nothing
    stopped = local_model.invoke("Count: 1, 2, 3,", stop=[","])
    assert "," not in stopped.content
    scores = local_model.score_options(["Q: Is fire hot?\n(A) yes\n(B) no\nAnswer: ("], [["A", "B"]])
    assert len(scores[0]) == 2 and all(s < 0 for s in scores[0])


@pytest.mark.slow
def test_cli_ask_json_with_the_embedded_model():
    result = _cli("ask", "Which is larger, 7 or 9? Answer:", "--json", "--max-new-tokens", "6")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "gemma-3-270m" and data["usage"]["output_tokens"] > 0
