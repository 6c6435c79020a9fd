"""Nothing lost on the bench, report and memory surfaces: a user's folder is never taken for a run, bad
summaries and homes are one line, a full disk is one line and loses nothing."""

from __future__ import annotations

import json
import sqlite3

import pytest
from helpers import rec, run_cli


def _one_line_error(code, err, *needles):
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err


def test_a_log_dir_holding_a_users_files_is_refused_and_kept(tmp_path, data_dir):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "report.md").write_text("my report")
    (folder / "summary.json").write_text('{"mine": true}')
    code, _, err = run_cli("bench", "bbq", "--tasks", "Age", "--limit", "1", "--train-limit", "1", "--conditions", "none",
                           "--log-dir", str(folder), "--data-dir", str(data_dir), "--display", "none")
    _one_line_error(code, err, "holds no salam run")
    assert (folder / "report.md").read_text() == "my report" and json.loads((folder / "summary.json").read_text()) == {"mine": True}


@pytest.mark.parametrize("conditions", ["", ",,"])
def test_no_conditions_is_one_line_before_any_run_folder(tmp_path, data_dir, conditions):
    code, _, err = run_cli("bench", "bbq", "--conditions", conditions, "--log-dir", str(tmp_path / "r"), "--data-dir", str(data_dir))
    _one_line_error(code, err, "--conditions is empty")
    assert not (tmp_path / "r").exists()


def test_report_of_malformed_run_folders_is_one_line(tmp_path, data_dir):
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.testing import ScriptedChatModel

    config = BenchConfig(benchmark="bbq", tasks=["Age"], limit=2, train_limit=2, data_dir=str(data_dir), conditions=["none"],
                         answer_mode="generate", batch_size=2, embedder="hash-bow-64", self_correct=True, gather=False)
    run_benchmark(config, tmp_path / "good", model=ScriptedChatModel(replies=["A)"]))
    summary = json.loads((tmp_path / "good" / "summary.json").read_text())
    broken = {"no-accuracy": {**summary, "conditions": {"none": {"n": 2}}}, "list": {**summary, "conditions": ["none"]},
              "macro": {**summary, "self_correct": {"macro": {}}}, "text": "{oops"}
    import shutil

    for name, value in broken.items():
        shutil.copytree(tmp_path / "good", tmp_path / name)
        (tmp_path / name / "summary.json").write_text(value if isinstance(value, str) else json.dumps(value))
        code, _, err = run_cli("bench", "report", str(tmp_path / name))
        _one_line_error(code, err, "error: ")
        code, _, err = run_cli("bench", "report", str(tmp_path / "good"), str(tmp_path / name))
        _one_line_error(code, err, "error: ")
    (tmp_path / "good" / "timings.json").write_text("[1, 2")
    code, _, err = run_cli("bench", "report", str(tmp_path / "good"))
    assert code != 0 and "Traceback" not in err


def test_report_says_when_two_runs_share_no_question(tmp_path, data_dir):
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.testing import ScriptedChatModel

    for name, task in (("a", "Age"), ("b", "Nationality")):
        config = BenchConfig(benchmark="bbq", tasks=[task], limit=2, train_limit=2, data_dir=str(data_dir), conditions=["none"],
                             answer_mode="generate", batch_size=2, embedder="hash-bow-64", gather=False)
        run_benchmark(config, tmp_path / name, model=ScriptedChatModel(replies=["A)"]))
    code, out, _ = run_cli("bench", "report", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 0 and "no question answered by both runs" in out


@pytest.mark.parametrize("home", ["file", "/proc/salam-home"])
def test_an_unusable_salam_home_stops_only_what_needs_it(tmp_path, monkeypatch, home):
    if home == "file":
        (tmp_path / "file").write_text("x")
        home = str(tmp_path / "file")
    monkeypatch.setenv("SALAM_HOME", home)
    store = tmp_path / "mem"
    code, out, err = run_cli("memory", "path", "--memory", str(store))
    assert code == 0 and str(store) in out
    code, _, err = run_cli("memory", "stats")  # the default memory lives in SALAM_HOME
    _one_line_error(code, err, "error: ")
    from salam._util.home import models_cache_dir
    from salam.errors import SalamError

    with pytest.raises(SalamError, match="cannot use SALAM_HOME"):
        models_cache_dir().mkdir()


def test_a_full_disk_during_import_is_one_line_and_loses_nothing(tmp_path, monkeypatch):
    from salam.memory import MistakeMemory
    from salam.memory.backend import ChromaBackend, one_line_errors
    from salam.testing import HashEmbedder

    store = tmp_path / "mem"
    with MistakeMemory.open(store, embedder=HashEmbedder()) as mem:
        mem.add([rec(f"kept question {i}") for i in range(3)])
    export = tmp_path / "more.jsonl"
    export.write_text("".join(rec(f"new question {i}").model_dump_json() + "\n" for i in range(5)))
    real_add = ChromaBackend.add.__wrapped__

    def full(col, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ChromaBackend, "add", staticmethod(one_line_errors(full)))
    code, _, err = run_cli("memory", "import", str(export), "--memory", str(store), "--embedder", "hash-bow-64")
    _one_line_error(code, err, "the disk is full")
    monkeypatch.setattr(ChromaBackend, "add", staticmethod(real_add))
    with MistakeMemory.open(store, embedder=HashEmbedder()) as mem:
        assert mem.count() == 3
    code, _, err = run_cli("memory", "import", str(export), "--memory", str(store), "--embedder", "hash-bow-64")
    assert code == 0, err
    with MistakeMemory.open(store, embedder=HashEmbedder()) as mem:
        assert mem.count() == 8
