"""Table of imitation-learning runs from their manifests (speed, memory, losses, data counts).

Run: python benchmarks/il_summary.py ADAPTER_DIR [ADAPTER_DIR ...] [--out benchmarks/results/il_training.md]
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

from salam.train.folder import TrainDir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/il_training.md"))
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    lines = [
        "# Imitation learning runs (TRL SFT + LoRA, CPU)", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores. Base: embedded Gemma 3 270M (float32). LoRA on all "
        "attention and MLP projections; loss on the completion (the feedback JSON) only.", "",
        "| adapter | sources (train) | filter counts | steps | epochs | train s | tokens/s | peak RSS MB | train loss: first → last logged (epoch mean) | validation loss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in args.dirs:
        m = TrainDir(d).manifest()
        s = m["settings"]
        counts = ", ".join(f"{k} {v}" for k, v in m["counts"].items())
        first = m["loss_log"][0]["loss"] if m["loss_log"] else float("nan")
        last = m["loss_log"][-1]["loss"] if m["loss_log"] else float("nan")
        val = f"{m['validation_loss']:.3f}" if m["validation_loss"] is not None else "—"
        lines.append(f"| `{d.name}` | {m['sources']} | {counts} | {m['steps']} | {s['epochs']} | {m['train_seconds']:.0f} | "
                     f"{m['tokens_per_second']:.0f} | {m['peak_rss_mb']:.0f} | {first:.3f} → {last:.3f} ({m['final_train_loss']:.3f}) | {val} |")
    lines += ["", "Commands:", ""]
    for d in args.dirs:
        s = TrainDir(d).manifest()["settings"]
        sources = " ".join([f"--teacher {Path(t).name}" for t in s["teacher"]] + [f"--transcripts runs/{Path(t).parent.name}/{Path(t).name}" for t in s["transcripts"]])
        limit = f" --limit {s['limit']}" if s["limit"] else ""
        lines.append(f"- `salam train il {sources} --out {d.name}{limit} --batch-size {s['batch_size']} "
                     f"--grad-accum {s['grad_accum']} --epochs {s['epochs']} --min-examples {s['min_examples']}` "
                     "(teacher files from `$SALAM_DATA_DIR/salam/`)")
    if args.note:
        lines += ["", args.note]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
