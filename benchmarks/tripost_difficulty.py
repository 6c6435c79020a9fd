"""TriPosT on generated questions: seen (trained) vs unseen (harder, never trained) difficulty.

Run: python benchmarks/tripost_difficulty.py --model local+lora:runs/tripost/sft --model local+lora:runs/tripost/iter-1 \
         [--tasks multistep_arithmetic_two,boolean_expressions,dyck_languages] [--per-difficulty 5] [--max-rounds 3] \
         [--max-new-tokens 256] [--wrong-threshold P] [--out benchmarks/results/tripost_difficulty.md]

For each script task, questions are generated at each seen and each unseen difficulty with a seed no
training run uses ("test"), then each model runs the TriPosT protocol (attempt → own feedback → update,
zero-shot chain of thought). Reported per model and split: Acc@t1, Acc@final, Δ, Δi→c, Δc→i (macro
over tasks), McNemar final vs first, mean updates and wrong answers declared correct.
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from pathlib import Path


def questions(tasks: list[str], per_difficulty: int, split: str) -> list:
    from salam.train.tripost.checkers.scripts import SCRIPTS

    out = []
    for task in tasks:
        script = SCRIPTS[task]
        rng = random.Random(f"test-{split}-{task}")
        for difficulty in (script.seen if split == "seen" else script.unseen):
            out += [script.generate(rng, difficulty, i) for i in range(per_difficulty)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True)
    parser.add_argument("--per-difficulty", type=int, default=5)
    parser.add_argument("--max-rounds", type=int, default=3)
    parser.add_argument("--tasks", default="", help="comma-separated script tasks (default: all four)")
    parser.add_argument("--max-new-tokens", type=int, default=0, help="per attempt or update (default: the CoT budget)")
    parser.add_argument("--wrong-threshold", type=float, default=None,
                        help="the runner's wrong-step threshold on P(wrong) (default: greedy feedback)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tripost_difficulty.md"))
    args = parser.parse_args()

    from salam._util.quiet import quiet_libraries
    from salam.answering.cot import COT_MAX_NEW_TOKENS
    from salam.models import resolve_chat_model
    from salam.selfcorrect.metrics import summarise_two_attempts
    from salam.train.tripost.checkers.scripts import SCRIPTS
    from salam.train.tripost.runner import TriPosTRunner

    quiet_libraries()
    tasks = [t for t in args.tasks.split(",") if t] or list(SCRIPTS)
    unknown = [t for t in tasks if t not in SCRIPTS]
    if unknown:
        raise SystemExit(f"error: no script for {', '.join(unknown)}; script tasks: {', '.join(SCRIPTS)}")
    budget = args.max_new_tokens or COT_MAX_NEW_TOKENS
    lines = ["# TriPosT on generated questions: seen vs unseen difficulty", "",
             f"Command: `python benchmarks/tripost_difficulty.py {' '.join('--model ' + m for m in args.model)} "
             f"--tasks {','.join(tasks)} --per-difficulty {args.per_difficulty} --max-rounds {args.max_rounds} "
             f"--max-new-tokens {budget}"
             + (f" --wrong-threshold {args.wrong_threshold}" if args.wrong_threshold is not None else "")
             + f"` · {platform.machine()}, CPU · "
             "questions from the scripts' generators with the seed 'test' (training uses others)", "",
             "| model | split | n | Acc@t1 % | Acc@final % | Δ points | Δi→c % | Δc→i % | final vs t1 (b/c, p) | mean updates | wrong declared correct | s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for spec in args.model:
        model = resolve_chat_model(spec, max_new_tokens=budget, batch_size=8)
        for split in ("seen", "unseen"):
            qs = questions(tasks, args.per_difficulty, split)
            began = time.perf_counter()
            results = TriPosTRunner(model, args.max_rounds, max_new_tokens=budget,
                                    wrong_threshold=args.wrong_threshold).run(qs)
            seconds = time.perf_counter() - began
            summary = summarise_two_attempts([(r.task, r.t1.correct, r.t2.correct) for r in results])
            m, test = summary["macro"], summary["pooled"]["mcnemar_t2_vs_t1"]
            rounds = sum(r.rounds for r in results) / len(results)
            claims = sum(r.claimed_correct_when_wrong for r in results)
            wrong = sum(not r.t2.correct for r in results)
            lines.append(f"| `{spec}` | {split} | {len(results)} | {100 * m['acc_t1']:.1f} | {100 * m['acc_t2']:.1f} | "
                         f"{100 * m['delta']:+.1f} | {100 * m['delta_i_to_c']:.1f} | {100 * m['delta_c_to_i']:.1f} | "
                         f"{test['b']}/{test['c']}, p={test['p_value']:.3f} | {rounds:.2f} | {claims}/{wrong} | {seconds:.0f} |")
            print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
