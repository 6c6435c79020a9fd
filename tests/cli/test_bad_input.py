"""Bad input gets one line and a non-zero exit, never a traceback, and never touches the store."""

from __future__ import annotations

import json

import pytest
from helpers import rec, run_cli

from salam.memory import MistakeMemory
from salam.testing import HashEmbedder


@pytest.fixture
def store_dir(tmp_path):
    folder = tmp_path / "mem"
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as mem:
        mem.add([rec(f"question number {i}") for i in range(8)])
    return str(folder)


def _fingerprint(folder: str) -> list[str]:
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as mem:
        return sorted(r.model_dump_json() for r in mem.iter_records())


def _files(tmp_path):
    (tmp_path / "not-objects.jsonl").write_text('[1, 2]\n"text"\n')
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "bbq_flan_t5_mistakes.json").write_text('{"not": "a list"}')
    (tmp_path / "release2").mkdir()
    (tmp_path / "release2" / "bbq_flan_t5_mistakes.json").write_text('[{"response/prompt_str": 5}]')
    (tmp_path / "data" / "bbq").mkdir(parents=True)
    (tmp_path / "data" / "bbq" / "Age.jsonl").write_text('[1]\n')
    (tmp_path / "data" / "bbh").mkdir(parents=True)
    (tmp_path / "data" / "bbh" / "navigate.json").write_text('[{"input": 1}]')
    (tmp_path / "teacher.json").write_text('{"instances": [1, 2]}')
    (tmp_path / "a-folder").mkdir()


BAD = [
    ("memory", "import", "{tmp}/not-objects.jsonl"),
    ("memory", "import", "--salam", "{tmp}/release"),
    ("memory", "import", "--salam", "{tmp}/release2"),
    ("exam", "--bench", "bbq", "--tasks", "Age", "--data-dir", "{tmp}/data"),
    ("exam", "--bench", "bbh", "--tasks", "navigate", "--data-dir", "{tmp}/data"),
    ("train", "il", "--out", "{tmp}/il", "--teacher", "{tmp}/teacher.json"),
    ("memory", "list", "--page", "0"),
    ("memory", "list", "--limit", "-5"),
    ("memory", "list", "--source", "bogus"),
    ("memory", "search", "x", "-k", "-5"),
    ("memory", "search", "x", "--threshold", "nan"),
    ("memory", "export", "-o", "{tmp}/missing/out.jsonl"),
    ("memory", "export", "-o", "{tmp}/a-folder"),
    ("memory", "prune", "--margin", "-100"),
    ("memory", "prune", "--max-age-days", "-1"),
    ("memory", "prune", "--max-count", "-1"),
    ("memory", "prune", "--max-count", "0"),  # valid, but removes 8 records: needs --yes without a terminal
    ("memory", "delete", *[rec(f"question number {i}").id for i in range(8)]),  # the same: more than a few
    ("exam", "--bench", "bbq", "-o", "{tmp}/missing/exam.jsonl"),
    ("exam", "--bench", "bbq", "--batch-size", "0"),
    ("bench", "bbq", "--limit", "-3"),
    ("bench", "bbq", "--batch-size", "0"),
    ("bench", "bbq", "--answer-mode", "bogus"),
    ("bench", "bbq", "--threshold", "nan"),
    ("bench", "bbq", "--wrong-threshold", "0.3"),  # TriPosT's option without --self-correct tripost
    ("bench", "bbq", "--self-correct", "tripost", "--wrong-threshold", "1.5"),
    ("bench", "bbq", "--self-correct", "sometimes"),  # a mode that does not exist
    ("bench", "bbq", "--self-correct"),  # the mode is a value: two-attempt or tripost
    ("bench", "bbq", "--log-dir", "{tmp}/not-objects.jsonl/run"),
    ("ask", "hi", "--model", "hf:missing/model"),
    ("bench", "bbq", "--max-concurrency", "0"),
    ("bench", "bbq", "--max-concurrency", "-4"),
    ("bench", "bbq", "--max-retries", "-1"),
    ("bench", "bbq", "--timeout", "0"),
    ("bench", "bbq", "--logprobs", "echo"),
    ("bench", "bbq", "--engine", "vllm"),
    ("ask", "hi", "--engine", "vllm"),
]


@pytest.mark.parametrize("args", BAD, ids=[" ".join(a[:3]) + f" #{i}" for i, a in enumerate(BAD)])
def test_bad_input_is_one_line_and_leaves_the_store_alone(tmp_path, store_dir, args, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _files(tmp_path)
    before = _fingerprint(store_dir)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if argv[0] in ("memory", "exam"):
        argv += ["--memory", store_dir]
        if argv[1] not in ("import",):
            argv += ["--embedder", "hash-bow-64"] if argv[0] == "memory" else []
    code, out, err = run_cli(*argv)
    assert code != 0, (out, err)
    assert "Traceback" not in err and err.strip(), err
    assert _fingerprint(store_dir) == before


def test_a_bad_lock_timeout_is_one_line(tmp_path, store_dir, monkeypatch):
    monkeypatch.setenv("SALAM_LOCK_TIMEOUT", "abc")
    code, _, err = run_cli("memory", "stats", "--memory", store_dir)
    assert code == 1 and err.strip() == "error: SALAM_LOCK_TIMEOUT must be a number of seconds, not 'abc'"


def test_prune_and_delete_with_yes_remove(tmp_path, store_dir):
    code, out, _ = run_cli("memory", "prune", "--max-count", "2", "--yes", "--json", "--memory", store_dir)
    assert code == 0 and json.loads(out)["removed"] == 6
