"""Choose a TriPosT model's wrong-step threshold on held-out questions from its training distribution.

A TriPosT model can rank its wrong attempts above its right ones and still say "All steps are correct."
after every one (`tripost_feedback_signal.md`). `salam bench --self-correct tripost --wrong-threshold P`
lets that ranking decide: the feedback names a wrong step when P(" In" vs " All") >= P. This script
picks P without touching the test split: it runs the model's first attempts (the runner's own prompts
and budget) on questions training did not use — the benchmark's seeded train split after the first
``--skip`` per task (give the training ``--limit``), or the scripts' generators under their own seed —
reads P(wrong) after each, and takes the threshold with the largest Youden J (wrong attempts flagged
minus right ones flagged). It appends a section to ``--out`` and prints ``threshold: P`` last.

    python benchmarks/tripost_threshold.py --model local+lora:runs/tripost-bbq-v2/iter-1 --bench bbq \\
        --tasks Age,Disability_status,Nationality,Physical_appearance --skip 60 --limit 30 --max-new-tokens 128 \\
        --out benchmarks/results/tripost_threshold.md
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

HEADER = """# TriPosT wrong-step thresholds, chosen on held-out training-distribution questions

Each section: one model's first attempts on questions its training did not use (never the bench's test
split), P(wrong) = its next-token probability of ` In` against ` All` after `Feedback:`, and the threshold
with the largest Youden J. Use it as `salam bench ... --self-correct tripost --wrong-threshold P`.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="A local TriPosT model spec (local+lora:DIR).")
    parser.add_argument("--bench", default="bbh", choices=("bbh", "bbq"),
                        help="Where tasks without a generator take their questions from.")
    parser.add_argument("--tasks", required=True, help="Comma-separated tasks, as trained.")
    parser.add_argument("--skip", type=int, default=0, help="Train-split questions per task training used (its --limit).")
    parser.add_argument("--limit", type=int, default=30, help="Held-out questions per task.")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from salam.answering.cot import extract_cot
    from salam.answering.scoring import is_correct
    from salam.errors import SalamError
    from salam.models import resolve_chat_model
    from salam.stats import wrong_signal, youden_threshold
    from salam.train.tripost.runner import TriPosTRunner, wrong_probability
    from salam.train.tripost.train import TriPostConfig, rollout_questions

    began = time.perf_counter()
    try:
        config = TriPostConfig(out=Path("."), tasks=args.tasks.split(","), limit=args.limit, benchmark=args.bench,
                               data_dir=args.data_dir)
        questions = rollout_questions(config, "held-out", offset=args.skip)
        model = resolve_chat_model(args.model, batch_size=8, max_new_tokens=args.max_new_tokens)
        # first_attempts never uses the threshold: giving one makes the runner refuse a model that cannot score
        runner = TriPosTRunner(model, max_new_tokens=args.max_new_tokens, wrong_threshold=0.5)
        prompts, attempts = runner.first_attempts(questions)
        probabilities = wrong_probability(model, prompts, [a.rstrip() for a in attempts])
        wrong = [not is_correct(q, extract_cot(q, a)) for q, a in zip(questions, attempts)]
        chosen = youden_threshold(probabilities, wrong)
    except (SalamError, OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    s = wrong_signal(probabilities, wrong)
    command = shlex.join(["python", "benchmarks/tripost_threshold.py", *sys.argv[1:]])
    section = "\n".join([
        f"## `{args.model}`", "", f"Command: `{command}` · {time.perf_counter() - began:.0f} s", "",
        "| held-out attempts | wrong | AUROC | mean P(wrong): right / wrong | threshold | wrong flagged | right flagged |",
        "|---|---|---|---|---|---|---|",
        f"| {s['n']} | {s['wrong']} | {s['auroc']:.3f} | {s['p_wrong_if_right']:.3f} / {s['p_wrong_if_wrong']:.3f} "
        f"| **{chosen['threshold']:.4f}** | {chosen['flags_wrong']:.0%} | {chosen['flags_right']:.0%} |", ""])
    print(section)
    if args.out:
        existing = args.out.read_text(encoding="utf-8") if args.out.exists() else HEADER
        args.out.write_text(existing.rstrip("\n") + "\n\n" + section, encoding="utf-8")
    print(f"threshold: {chosen['threshold']:.4f}")


if __name__ == "__main__":
    main()
