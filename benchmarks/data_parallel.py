"""One process against two (accelerate launch, gloo) for the same SFT on the embedded model: same accuracy?

Run: SALAM_DATA_DIR=../shared/data python benchmarks/data_parallel.py [--out benchmarks/results/data_parallel.md]

Both runs see the same 160 BBQ training questions (40 per category) with the same global batch (one process
of 8, or two of 4) for 20 steps, and are validated on the same 40 questions (10 per category). Two processes
on these 2 cores share the cores, so ~1x wall time is expected: the point is that the distributed path trains
the same model, with one manifest and one adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def train(out: Path, processes: int, dropout: float) -> tuple[dict, float]:
    launcher = ["--multi_gpu", "--num_processes", str(processes)] if processes > 1 else ["--num_processes", "1"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *launcher, "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "-m", "salam.cli.main", "train", "sft", "--bench", "bbq", "--limit", "40",
           "--validation", "10", "--max-steps", "20", "--batch-size", str(8 // processes), "--save-steps", "10",
           "--lora-dropout", str(dropout), "--out", str(out), "--display", "none"]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // processes))}
    began = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((out / "salam_train_manifest.json").read_text()), time.perf_counter() - began


def section(runs: dict[int, tuple[dict, float]], files: dict[int, list[str]], dropout: float) -> list[str]:
    """One dropout setting: the table, the loss curves side by side, the ratio and the difference."""
    lines = [f"## LoRA dropout {dropout}", "",
             "| processes | validation accuracy % (40 q) | final loss | wall s (launch to exit) | train s | files in --out |",
             "|---|---|---|---|---|---|"]
    for n, (m, wall) in runs.items():
        lines.append(f"| {n} | {100 * m['validation_accuracy']:.1f} | {m['loss_log'][-1]['loss']:.4f} | {wall:.0f} | "
                     f"{m['train_seconds']:.0f} | {', '.join(files[n])} |")
    steps = sorted({h['step'] for m, _ in runs.values() for h in m["loss_log"]})
    by = {n: {h["step"]: h["loss"] for h in m["loss_log"]} for n, (m, _) in runs.items()}
    return lines + ["", "Loss curves (the trainer logs every 5 steps):", "", "| step | 1 process | 2 processes |", "|---|---|---|",
                    *[f"| {s} | {by[1].get(s, float('nan')):.4f} | {by[2].get(s, float('nan')):.4f} |" for s in steps], "",
                    f"Wall-time ratio (2 processes / 1): {runs[2][1] / runs[1][1]:.2f}x; validation accuracy difference "
                    f"{100 * (runs[2][0]['validation_accuracy'] - runs[1][0]['validation_accuracy']):+.1f} points.", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/data_parallel.md")
    parser.add_argument("--dropout", type=float, nargs="+", default=[0.0, 0.05],
                        help="LoRA dropout settings to compare at (0: the two runs differ only in float rounding)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="salam-dp-"))
    lines = [
        "# Data-parallel training: one process against two", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/data_parallel.py` · machine: {platform.machine()}, "
        f"{os.cpu_count()} cores · model: the embedded Gemma 3 270M, LoRA r16, float32 · data: BBQ, 4 categories, "
        "160 training questions (40 each), 40 validation questions (10 each), 20 steps, global batch 8 "
        "(1 × 8 or 2 × 4), `accelerate launch --multi_gpu --num_processes N` (torchrun; gloo on the CPU).", "",
        "Both runs see the same examples in the same global batches (the two ranks' batches of 4 are the one process's "
        "batch of 8, split; `tests/train/test_data_parallel.py` checks it) and average their gradients, so what can "
        "differ is float rounding (each rank pads its 4 prompts to its own longest) and LoRA dropout, whose masks each "
        "process draws from its own random stream. With dropout 0 the two runs train the same model up to rounding; "
        "with the default 0.05 they are two draws of the same training.", "",
    ]
    for dropout in args.dropout:
        runs = {n: train(work / f"p{n}-{dropout}", n, dropout) for n in (1, 2)}
        files = {n: sorted(p.name for p in (work / f"p{n}-{dropout}").iterdir()) for n in runs}
        lines += section(runs, files, dropout)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
