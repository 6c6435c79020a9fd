"""llama.cpp as an engine: in-process (``--engine llamacpp``) and as an OpenAI-compatible server, on the embedded
GGUF and real BBQ questions, against the transformers engine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import free_port, wait_for_port


def _letters(model, questions):
    from langchain_core.messages import HumanMessage

    from salam.answering.answerer import answer_prompt

    prompts = [model.format_prompt([HumanMessage(answer_prompt(q))]) for q in questions]
    scores = model.score_options(prompts, [q.letters for q in questions])
    return [q.letters[max(range(len(s)), key=s.__getitem__)] for q, s in zip(questions, scores)], scores


def _questions(data_dir, n=16):
    from salam.data.questions import load_benchmark

    data, _ = load_benchmark("bbq", ["Age", "Nationality"], str(data_dir))
    return [q for task in data.values() for q in list(task)[: n // 2]]


def test_the_engine_without_its_extra_is_one_line_with_the_install_command(monkeypatch):
    from salam.errors import MissingExtraError
    from salam.models.resolve import resolve_chat_model

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'salam\[llamacpp\]'"):
        resolve_chat_model("local", engine="llamacpp")


def test_an_unknown_engine_is_one_line():
    from salam.errors import SalamError
    from salam.models.resolve import resolve_chat_model

    with pytest.raises(SalamError, match="--engine must be transformers, llamacpp or llamacpp-f32"):
        resolve_chat_model("local", engine="vllm")


@pytest.mark.parametrize("amx", [True, False])
def test_models_load_without_extra_buffers_only_on_an_amx_build(monkeypatch, amx):
    """llama.cpp's AMX weight buffers segfault in decode (ggml-org/llama.cpp#20824): off on AMX builds, and only inside."""
    lib = pytest.importorskip("llama_cpp.llama_cpp")
    from salam.models import llamacpp_amx

    monkeypatch.setattr(llamacpp_amx, "amx_build", lambda: amx)
    with llamacpp_amx.plain_cpu_buffers():
        assert lib.llama_model_default_params().use_extra_bufts is (not amx)
    assert lib.llama_model_default_params().use_extra_bufts is True


@pytest.mark.slow
def test_llamacpp_scores_the_letters_transformers_scores(data_dir):
    pytest.importorskip("llama_cpp")
    from salam.models.resolve import resolve_chat_model

    questions = _questions(data_dir)
    ours, _ = _letters(resolve_chat_model("local", engine="llamacpp"), questions)
    theirs, _ = _letters(resolve_chat_model("local"), questions)
    assert sum(a == b for a, b in zip(ours, theirs)) >= 12  # quantised matmuls move close calls (benchmarks: 160 q)
    text, n_in, n_out, _ = resolve_chat_model("local", engine="llamacpp").generate_texts(["Q: 2+2=?\nA:"], max_new_tokens=8)[0]
    assert n_out >= 1 and n_in > 3 and isinstance(text, str)


@pytest.mark.slow
def test_llamacpp_on_the_float32_copy_scores_exactly_the_letters_transformers_scores(data_dir):
    pytest.importorskip("llama_cpp")
    from salam.models.llamacpp import embedded_gguf
    from salam.models.resolve import resolve_chat_model

    questions = _questions(data_dir)
    model = resolve_chat_model("local", engine="llamacpp-f32")
    ours, our_scores = _letters(model, questions)
    theirs, their_scores = _letters(resolve_chat_model("local"), questions)
    # Float32 products summed in another order differ by ~0.001 nats (benchmarks: median 0.001), so only a tie that
    # close may flip (one of these 16 does on some CPUs: 0.0016 nats apart); every clearer letter must agree.
    margins = [sorted(s, reverse=True)[0] - sorted(s, reverse=True)[1] for s in their_scores]
    assert all(a == b for a, b, m in zip(ours, theirs, margins) if m >= 0.01)
    assert sum(a == b for a, b in zip(ours, theirs)) >= 15  # quantised: >= 12 of 16 (above)
    assert max(abs(a - b) for x, y in zip(our_scores, their_scores) for a, b in zip(x, y)) < 0.05
    copy = embedded_gguf(float32=True)
    assert model.model_path == str(copy) and copy.stat().st_size > 2 * embedded_gguf().stat().st_size
    stamp = copy.stat().st_mtime_ns
    assert embedded_gguf(float32=True).stat().st_mtime_ns == stamp  # written once
    reply = model.invoke("Q: 2+2=?\nA:", max_new_tokens=4)
    assert reply.response_metadata["engine"] == "llamacpp-f32"


@pytest.mark.slow
def test_a_trained_adapter_moves_llamacpp_as_it_moves_transformers(tmp_path, data_dir):
    pytest.importorskip("llama_cpp")
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from salam.models.embedded import ensure_embedded_model
    from salam.models.resolve import resolve_chat_model

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(ensure_embedded_model()), dtype="float32")
    peft = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]))
    for name, weight in peft.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(weight, std=0.02)
    peft.save_pretrained(str(tmp_path / "adapter"))
    questions = _questions(data_dir, 6)
    shifts = {}
    for engine in ("transformers", "llamacpp"):
        _, before = _letters(resolve_chat_model("local", engine=engine), questions)
        _, after = _letters(resolve_chat_model(f"local+lora:{tmp_path / 'adapter'}", engine=engine), questions)
        shifts[engine] = [a - b for row_a, row_b in zip(after, before) for a, b in zip(row_a, row_b)]
    moved = [(t, c) for t, c in zip(shifts["transformers"], shifts["llamacpp"]) if abs(t) > 0.05]
    assert moved and sum((t > 0) == (c > 0) for t, c in moved) >= 0.9 * len(moved)
    converted = tmp_path / "adapter" / "adapter_model.gguf"
    stamp = converted.stat().st_mtime_ns
    resolve_chat_model(f"local+lora:{tmp_path / 'adapter'}", engine="llamacpp")
    assert converted.stat().st_mtime_ns == stamp  # converted once


def _serve(tmp_path, *extra):
    from salam.models.llamacpp import embedded_gguf

    port = free_port()
    log = (tmp_path / f"llama-server-{port}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "salam.models.llamacpp_server", "--model", str(embedded_gguf()), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--model_alias", "gemma", *extra],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    wait_for_port(port, proc, 120, "llama_cpp.server")
    return proc, f"http://127.0.0.1:{port}/v1"


@pytest.mark.slow
def test_llamacpp_server_scores_choice_mode_and_one_without_logits_is_refused(tmp_path, data_dir):
    pytest.importorskip("llama_cpp.server")
    pytest.importorskip("langchain_openai")
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.errors import SalamError
    from salam.models.resolve import resolve_chat_model

    questions = _questions(data_dir, 8)
    proc, url = _serve(tmp_path)
    try:
        served, _ = _letters(resolve_chat_model("openai:gemma", base_url=url), questions)
        local, _ = _letters(resolve_chat_model("local", engine="llamacpp"), questions)
        assert sum(a == b for a, b in zip(served, local)) >= 7
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    proc, url = _serve(tmp_path, "--logits_all", "false")
    try:
        config = BenchConfig(benchmark="bbq", model="openai:gemma", base_url=url, tasks=["Age"], limit=2, conditions=["none"],
                             data_dir=str(data_dir), embedder="hash-bow-64", max_retries=0)
        with pytest.raises(SalamError, match=r"needs letter log-probabilities.*/completions"):
            run_benchmark(config, tmp_path / "run")
        assert not (tmp_path / "run").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
