"""Two training processes (``accelerate launch``, gloo on the CPU) on a tiny Llama: one manifest and one model
written, sampling shared out and gathered (the same samples as one process), and a killed rank resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from helpers import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def _launch(*args: str, processes: int = 2, batch_log: Path | None = None) -> subprocess.Popen:
    """``accelerate launch --multi_gpu --num_processes N -m salam.cli.main train ...`` (torchrun underneath; without a
    GPU the processes meet over gloo). With ``batch_log`` the run goes through ``batch_probe.py``, which writes each
    process's training batches there."""
    launcher = ["--multi_gpu", "--num_processes", str(processes)] if processes > 1 else ["--num_processes", "1"]
    program = [str(Path(__file__).with_name("batch_probe.py"))] if batch_log else ["-m", "salam.cli.main"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launcher, "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", *program, "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **({"SALAM_BATCH_LOG": str(batch_log)} if batch_log else {})}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return out


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "salam_train_manifest.json").read_text())


def test_two_processes_train_sft_and_a_stasc_iteration_as_one_would(tmp_path, data_dir, tiny):
    common = ["--bench", "bbq", "--tasks", "Age", "--validation", "4", "--batch-size", "2", "--data-dir", str(data_dir)]
    out = _finish(_launch("sft", *common, "--limit", "16", "--max-steps", "2", "--base", f"hf:{tiny}",
                          "--out", str(tmp_path / "sft")))
    assert out.count("model spec:") == 1  # only the main process speaks
    sft = _manifest(tmp_path / "sft")
    assert sft["training_setup"]["processes"] == 2 and sft["steps"] == 2 and (tmp_path / "sft" / "model").is_dir()
    stasc_args = ["stasc", *common, "--limit", "8", "--max-steps", "1", "--iterations", "1", "--filter", "non-decreasing",
                  "--init", sft["spec"]]
    _finish(_launch(*stasc_args, "--out", str(tmp_path / "two")))
    _finish(_launch(*stasc_args, "--out", str(tmp_path / "one"), processes=1))
    two, one = _manifest(tmp_path / "two" / "iter-1"), _manifest(tmp_path / "one" / "iter-1")
    assert two["training_setup"]["processes"] == 2 and one["training_setup"]["processes"] == 1
    assert (two["samples_by_outcome"], two["kept"]) == (one["samples_by_outcome"], one["kept"])


def _rank_pids(rank: int) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ and b"salam.cli.main" in cmdline and b"accelerate" not in cmdline:
            pids.append(int(proc.name))
    return pids


def test_a_killed_rank_stops_the_run_and_resume_finishes_it(tmp_path, data_dir, tiny):
    args = ["sft", "--bench", "bbq", "--tasks", "Age", "--limit", "40", "--validation", "2", "--batch-size", "2",
            "--max-steps", "24", "--save-steps", "4", "--base", f"hf:{tiny}", "--data-dir", str(data_dir),
            "--out", str(tmp_path / "sft")]
    proc = _launch(*args)
    deadline = time.time() + 300
    while time.time() < deadline and not any((tmp_path / "sft" / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.2)
    victims = _rank_pids(1)
    assert victims, "rank 1 not found"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0
    assert not (tmp_path / "sft" / "salam_train_manifest.json").exists() and not (tmp_path / "sft" / "model").exists()
    _finish(_launch(*args, "--resume"))
    manifest = _manifest(tmp_path / "sft")
    assert manifest["steps"] == 24 and manifest["resumed_from"] and manifest["training_setup"]["processes"] == 2


def test_two_processes_train_on_the_one_process_batches_and_reach_its_losses(tmp_path, data_dir, tiny):
    """Global batch 8 as 1 x 8 or 2 x 4: the two ranks' batches are the one process's, split, and with LoRA dropout 0
    the loss curves agree up to float rounding (what is left is each rank padding its prompts to its own longest)."""
    args = ["sft", "--bench", "bbq", "--tasks", "Age", "--limit", "40", "--validation", "2", "--max-steps", "10",
            "--lora-dropout", "0", "--base", f"hf:{tiny}", "--data-dir", str(data_dir)]
    logs = tmp_path / "batches"
    logs.mkdir()
    _finish(_launch(*args, "--batch-size", "8", "--out", str(tmp_path / "one"), processes=1, batch_log=logs))
    _finish(_launch(*args, "--batch-size", "4", "--out", str(tmp_path / "two"), batch_log=logs))
    one = [line.split() for line in (logs / "1-0.txt").read_text().splitlines()][:10]  # then the validation batches
    ranks = [[line.split() for line in (logs / f"2-{r}.txt").read_text().splitlines()][:10] for r in (0, 1)]
    assert len(one) == 10 and [a + b for a, b in zip(*ranks)] == one
    losses = [[h["loss"] for h in _manifest(tmp_path / name)["loss_log"]] for name in ("one", "two")]
    assert len(losses[0]) == 2 and losses[0] == pytest.approx(losses[1], rel=1e-3)


def test_two_processes_train_the_verify_recipe_on_the_one_process_samples(tmp_path, data_dir, tiny):
    """The verify recipe (question groups, τ chosen on held-out questions shared out over the ranks) under two
    processes: the same first answers and held-out choice as one process, one manifest."""
    args = ["verify", "--bench", "bbq", "--tasks", "Age", "--limit", "8", "--validation", "2", "--heldout", "4", "--n-init", "3",
            "--temperature", "2.0", "--max-steps", "2", "--batch-size", "4", "--lora-dropout", "0", "--base", f"hf:{tiny}",
            "--data-dir", str(data_dir)]
    out = _finish(_launch(*args, "--out", str(tmp_path / "two")))
    assert out.count("model spec:") == 1
    _finish(_launch(*args, "--out", str(tmp_path / "one"), processes=1))
    two, one = _manifest(tmp_path / "two"), _manifest(tmp_path / "one")
    assert two["training_setup"]["processes"] == 2 and one["training_setup"]["processes"] == 1
    assert (two["first_answers"], two["examples_by_kind"]) == (one["first_answers"], one["examples_by_kind"])
    assert two["heldout"]["heldout_n"] == one["heldout"]["heldout_n"] == 4
