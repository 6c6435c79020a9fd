"""End to end with the embedded model, the bundled embedder and real BBQ questions; and a real OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import free_port, wait_for_port

pytestmark = pytest.mark.slow


def test_gather_then_examine_on_real_bbq(tmp_path, data_dir, local_model):
    from salam.assistant.assistant import StudyAssistant
    from salam.data.bbq import load_bbq
    from salam.data.split import balanced_prefix, split_task
    from salam.loops import examine, gather, read_transcript
    from salam.memory import MistakeMemory
    from salam.models import resolve_chat_model

    train, test = split_task(load_bbq(["Age"], data_dir)["Age"], seed=3)
    train, test = balanced_prefix(train, 6), balanced_prefix(test, 4)
    assistant = StudyAssistant(resolve_chat_model("local", max_new_tokens=48))
    with MistakeMemory.open(tmp_path / "memory") as memory:  # the bundled all-MiniLM-L6-v2
        report = gather(train, local_model, assistant, memory, rounds=1, transcript=tmp_path / "t.jsonl", answer_mode="choice")
        exchanges = read_transcript(tmp_path / "t.jsonl")
        assert len(exchanges) == 6 and {e.question.id for e in exchanges} == {q.id for q in train}
        wrong = [e for e in exchanges if e.outcome != "correct_first"]
        assert memory.count(kind="mistake") == len(wrong) == report.fixed + report.unfixed
        assert memory.count(kind="solved") == report.correct_first
        for e in wrong:
            record = memory.get(e.memory_ids[0])
            assert record.true_answer == e.question.answer and record.wrong_answer == e.attempts[0].answer
            assert record.main_model == "gemma-3-270m" and e.feedback[0].raw
        assert memory.embedder.name == "all-MiniLM-L6-v2" and memory.embedder.dim == 384
        if wrong:
            results = examine(test, local_model, memory, condition="feedback", k=3, threshold=0.5, answer_mode="choice")
            assert len(results) == 4 and all(r.answer in ("A", "B", "C") for r in results)
            used = [m.id for r in results for m in r.memories]
            if used:
                assert memory.get(used[0]).retrieved >= 1


def test_openai_compatible_server(tmp_path):
    """`transformers serve` (code nobody here wrote) serves the cached model; `openai:` reaches it via LangChain."""
    pytest.importorskip("langchain_openai")
    pytest.importorskip("fastapi")
    exe = shutil.which("transformers")
    if exe is None:
        pytest.skip("the transformers CLI is not installed")
    from salam.models import resolve_chat_model
    from salam.models.embedded import ensure_embedded_model

    model_dir = ensure_embedded_model()
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([exe, "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, proc, 240, "transformers serve (log: serve.log)")
        model = resolve_chat_model(f"openai:{model_dir}", base_url=f"http://127.0.0.1:{port}/v1", max_new_tokens=8)
        reply = model.invoke("Which is larger, 7 or 9? Answer:")
        assert isinstance(reply.content, str) and reply.content.strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_main_job_cli_tiny(tmp_path, data_dir):
    """The README's main job, shrunk: a BBQ run on the embedded default, then its report."""
    cmd = [sys.executable, "-m", "salam.cli.main", "bench", "bbq", "--tasks", "Age", "--limit", "4", "--train-limit", "4",
           "--log-dir", str(tmp_path / "run"), "--display", "plain", "--data-dir", str(data_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "report:" in result.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["answer_mode"] == "choice" and summary["conditions"]["none"]["n"] == 4
    assert (tmp_path / "run" / "report.md").read_text().startswith("# BBQ run")
