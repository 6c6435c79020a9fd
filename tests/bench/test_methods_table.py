"""benchmarks/methods_table.py: one table of methods from bench runs and training folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "methods_table.py"


def _config(tmp_path, data_dir, **overrides):
    from salam.bench.runner import BenchConfig

    return BenchConfig(**{**dict(benchmark="bbq", tasks=["Age", "Nationality"], limit=6, train_limit=4, data_dir=str(data_dir),
                                 answer_mode="generate", batch_size=2, embedder="hash-bow-64", threshold=0.3), **overrides})


def test_rows_carry_the_run_metrics_the_pairing_and_the_training_cost(tmp_path, data_dir):
    from salam.bench.runner import run_benchmark
    from salam.testing import ScriptedChatModel

    helper = ScriptedChatModel(replies=['Use only facts from the text.", "reason": "guess"}'])
    stubborn = ScriptedChatModel(reply_fn=lambda p: "A)")
    fixer = ScriptedChatModel(reply_fn=lambda p: "C)" if "First answer" in p else "A)")
    config = dict(conditions=["none"], self_correct=True)
    run_benchmark(_config(tmp_path, data_dir, **config), tmp_path / "stubborn", model=stubborn, assistant_model=helper)
    b = run_benchmark(_config(tmp_path, data_dir, **config), tmp_path / "fixer", model=fixer, assistant_model=helper)
    # a recipe folder with two parts, as `salam train score` writes it
    for part, seconds, rss in (("stage1", 60.0, 1024.0), ("stage2", 120.0, 3000.0)):
        (tmp_path / "train" / part).mkdir(parents=True)
        (tmp_path / "train" / part / "salam_train_manifest.json").write_text(json.dumps(
            {"stage_seconds": seconds, "peak_rss_mb": rss, "spec": "local"}))

    out = tmp_path / "table.md"
    done = subprocess.run([sys.executable, str(SCRIPT), "--versus", "stubborn", "--out", str(out), "--table", "Toy",
                           f"stubborn={tmp_path / 'stubborn'}", f"fixer={tmp_path / 'fixer'}@{tmp_path / 'train'}"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| ")}
    m = b["self_correct"]["macro"]
    fixer_row = rows["fixer"]
    assert fixer_row[2:4] == [f"{100 * m['acc_t1']:.1f}", f"{100 * m['acc_t2']:.1f}"]
    stubborn_t2 = {q: r["t2"]["correct"] for q, r in _samples(tmp_path / "stubborn").items()}
    fixer_t2 = {q: r["t2"]["correct"] for q, r in _samples(tmp_path / "fixer").items()}
    only_fixer = sum(fixer_t2[q] and not stubborn_t2[q] for q in fixer_t2)
    only_stubborn = sum(stubborn_t2[q] and not fixer_t2[q] for q in fixer_t2)
    assert fixer_row[8].startswith(f"{only_fixer}/{only_stubborn}, p")
    assert rows["stubborn"][8] == "—"
    assert fixer_row[9:] == ["3.0", "3.0 |"]  # 180 s; peak of the two parts (MB / 1000, as the other results)


def test_a_run_without_self_correction_is_a_one_line_error(tmp_path, data_dir):
    from salam.bench.runner import run_benchmark
    from salam.testing import ScriptedChatModel

    run_benchmark(_config(tmp_path, data_dir, conditions=["none"]), tmp_path / "plain",
                  model=ScriptedChatModel(reply_fn=lambda p: "A)"), assistant_model=ScriptedChatModel(replies=["x"]))
    done = subprocess.run([sys.executable, str(SCRIPT), "--table", "Toy", f"plain={tmp_path / 'plain'}"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no self-correction results" in done.stderr.strip().splitlines()[-1]


def _samples(run: Path) -> dict:
    from salam.bench.rundir import RunDir

    return RunDir(run).samples("self_correct")
