"""Plot a training folder's curves: loss for every recipe; reward, KL and validation accuracy for SCoRe.

Run: python benchmarks/training_curves.py runs/score-sft --out benchmarks/results/score_curves.png

Reads the manifests through salam.train.folder.TrainDir (the folder's one owner): SCoRe's stages
(`stage1/`, `stage2/`, `single-turn/`), iterative recipes' `iter-N/` and `sft/`, or a single run.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def stages(root: Path) -> list[tuple[str, dict]]:
    from salam.train.folder import TrainDir

    found = [(name, part.manifest()) for name, part in TrainDir(root).parts()]
    if not found and TrainDir(root).is_finished():
        found.append((root.name, TrainDir(root).manifest()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = stages(args.folder)
    if not parts:
        raise SystemExit(f"error: no finished training manifests under {args.folder}")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    offset = 0
    for name, manifest in parts:
        losses = manifest.get("loss_log", [])
        axes[0].plot([offset + p["step"] for p in losses], [p["loss"] for p in losses], label=name)
        curve = manifest.get("curve", [])
        if curve:
            axes[1].plot([offset + c["step"] for c in curve], [c["reward_t1"] for c in curve], label=f"{name} E r1")
            axes[1].plot([offset + c["step"] for c in curve], [c["reward_t2"] for c in curve], "--", label=f"{name} E r2")
            axes[1].plot([offset + c["step"] for c in curve], [c["kl_t1"] + c["kl_t2"] for c in curve], ":", label=f"{name} KL")
        validation = manifest.get("validation", [])
        if validation:
            axes[2].plot([offset + v["step"] for v in validation], [100 * v["acc_t1"] for v in validation], "o-", label=f"{name} Acc@t1")
            axes[2].plot([offset + v["step"] for v in validation], [100 * v["acc_t2"] for v in validation], "s--", label=f"{name} Acc@t2")
        offset += int(manifest.get("steps", 0))
    for ax, title in zip(axes, ("training loss", "expected reward and KL (SCoRe)", "validation accuracy %")):
        ax.set_title(title)
        ax.set_xlabel("optimizer step (stages one after another)")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
