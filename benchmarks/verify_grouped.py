"""Verify-then-revise training, each question read once (`--share-question`) against every example read whole.

The same verify examples (answers, balanced verdicts and revisions, `--revise-right`, built by
`salam.train.verify.build_examples` from first answers drawn from the untrained embedded model on BBQ
training questions) are pushed through a LoRA forward and backward pass twice: as flat batches of
``--batch-size`` examples (the recipe before `--share-question`) and as batches of question groups with
about as many examples, their question read once (:mod:`salam.train.grouped_letters`). It reports
seconds per example, the tokens each way reads, and the summed letter loss (equal up to float rounding:
the same examples, the same loss). No optimizer step: both passes see the same weights.

    SALAM_DATA_DIR=../shared/data python benchmarks/verify_grouped.py [--questions 12] [--memory DIR]

With ``--memory`` (a memory the SALAM release was imported into) the verification and revision prompts carry its
guidelines, as `salam train verify --memory` builds them, and a third row groups by question alone: the answer
prompt, which carries no guidance, then shares only the chat header with the others (the grouping before
:func:`salam.train.verify.question_groups` split such groups by their first line).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "verify_grouped.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=12, help="BBQ training questions per category (4 categories)")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per flat batch")
    parser.add_argument("--memory", type=Path, help="guidelines from this memory in the verification and revision prompts")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or (OUT.with_name("verify_grouped_memory.md") if args.memory else OUT)

    import torch
    import torch.nn.functional as F

    from salam.models import resolve_chat_model
    from salam.train.base import prepare_model
    from salam.train.grouped_letters import GroupedLetterCollator, group_row, grouped_option_logits, shuffled_groups
    from salam.train.letters import LetterCollator, option_logits
    from salam.train.verify import VerifyConfig, build_examples, question_groups, sample_first_answers

    torch.set_num_threads(os.cpu_count() or 1)
    config = VerifyConfig(out=Path("/nonexistent"), limit=args.questions, revise_right=True, n_init=2, lora_dropout=0.0)
    from salam.train.base import train_split_questions

    questions = train_split_questions("bbq", None, None, config.split_seed, args.questions)
    pairs, counts = sample_first_answers(config, questions, resolve_chat_model("local", max_new_tokens=4, batch_size=8))
    blocks: dict[str, str] = {}
    if args.memory:
        from salam.selfcorrect.protocol import Guidelines

        guidelines = Guidelines.open(str(args.memory), "default")
        try:
            blocks = guidelines.block_map(questions)
        finally:
            guidelines.memory.close()
    examples, kinds, owners = build_examples(config, questions, pairs, blocks)
    by_question: dict[str, list] = {}
    for e, o in zip(examples, owners):
        by_question.setdefault(o, []).append(e)
    ordered = shuffled_groups(question_groups(examples, owners), random.Random(0))
    per_group = len(examples) / len(ordered)
    group_batch = max(1, round(args.batch_size / per_group))  # as fit_grouped_letters chooses
    model, tokenizer, _ = prepare_model(config, full=False)
    model.train()

    def run(batches: list, collate, logits_of) -> tuple[float, float, int]:
        began, total, tokens = time.perf_counter(), 0.0, 0
        for rows in batches:
            batch = collate(rows)
            tokens += int(sum(v.sum() for k, v in batch.items() if k.endswith("mask") and k != "option_mask"))
            logits = logits_of(model, batch)
            loss = F.cross_entropy(logits, batch["target_index"], reduction="sum")
            loss.backward()
            total += float(loss.detach())
        model.zero_grad()
        return time.perf_counter() - began, total, tokens

    flat_rows = [e.as_row() for g in ordered for e in g]
    flat = run([flat_rows[i : i + args.batch_size] for i in range(0, len(flat_rows), args.batch_size)],
               LetterCollator(tokenizer, config.max_length), option_logits)

    def grouped_run(groups: list) -> tuple[float, float, int]:
        rows, size = [group_row(g) for g in groups], max(1, round(args.batch_size * len(groups) / len(examples)))
        return run([rows[i : i + size] for i in range(0, len(rows), size)], GroupedLetterCollator(tokenizer, config.max_length),
                   grouped_option_logits)

    grouped = grouped_run(ordered)
    n = len(examples)
    whole = shuffled_groups(by_question, random.Random(0))
    question_only = grouped_run(whole) if len(whole) != len(ordered) else None
    lines = [
        "# Verify training: each question read once against every example read whole", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/verify_grouped.py --questions {args.questions}"
        f"{' --memory DIR' if args.memory else ''}` · "
        + (f"guidelines: the memory's ({sum(bool(b) for b in blocks.values())} of {len(questions)} questions retrieved some) "
           "in the verification and revision prompts · " if args.memory else "") +
        f"machine: {platform.machine()}, {os.cpu_count()} cores · model: the embedded Gemma 3 270M, LoRA r16 (dropout 0), "
        f"float32 · data: BBQ, 4 categories, {len(questions)} training questions, 2 first answers each from the untrained "
        f"model ({dict(counts)}), `--revise-right` examples {kinds} = {n} examples in {len(ordered)} groups "
        f"({per_group:.2f} examples each) · forward and backward of the letter loss, no optimizer step.", "",
        "| training | batches | examples a batch | tokens read | seconds | seconds per example | summed loss |",
        "|---|---|---|---|---|---|---|",
        f"| every example read whole (`--no-share-question`) | {-(-n // args.batch_size)} | {args.batch_size} | {flat[2]:,} | "
        f"{flat[0]:.1f} | {flat[0] / n:.3f} | {flat[1]:.3f} |",
        f"| each question read once (`--share-question`) | {-(-len(ordered) // group_batch)} | {group_batch} groups ≈ "
        f"{group_batch * per_group:.1f} | {grouped[2]:,} | {grouped[0]:.1f} | {grouped[0] / n:.3f} | {grouped[1]:.3f} |",
    ]
    if question_only is not None:
        lines.append(f"| grouped by question alone (before the first line split the groups) | — | ≈ {args.batch_size} | "
                     f"{question_only[2]:,} | {question_only[0]:.1f} | {question_only[0] / n:.3f} | {question_only[1]:.3f} |")
    lines += ["", f"Speed-up: **{flat[0] / grouped[0]:.2f}x** per example; tokens read {grouped[2] / flat[2]:.2f}x; summed loss "
              f"difference {abs(flat[1] - grouped[1]):.2e}"
              + (f"; grouped by question alone: {flat[0] / question_only[0]:.2f}x, tokens {question_only[2] / flat[2]:.2f}x" if question_only else "") + ".", ""]
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
