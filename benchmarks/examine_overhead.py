"""Examine-mode overhead: `feedback` condition vs plain answering (`none`) on the same model, questions and batch.

Run: SALAM_DATA_DIR=... python benchmarks/examine_overhead.py [--per-category 40] [--answer-mode choice]

The memory is the SALAM paper's BBQ release (Flan-T5 mistakes with GPT-4 feedback), imported into a
temporary store; questions are BBQ test questions (seeded split). Two views: salam's own machinery
(retrieval + prompt building, measured with a zero-cost scripted model) and end to end with the
embedded model, where longer prompts also cost model time. The query-embedding cache is cleared
before every timed pass, so each pass pays for embedding all its questions.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

CONDITIONS = ("none", "feedback", "feedback_only")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-category", type=int, default=40)
    parser.add_argument("--answer-mode", default="choice")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/examine_overhead.md"))
    args = parser.parse_args()

    from salam._util.quiet import quiet_libraries
    from salam.data.bbq import available_bbq_categories, load_bbq
    from salam.data.files import data_dir
    from salam.data.split import balanced_prefix, split_task
    from salam.loops import examine
    from salam.memory import MistakeMemory
    from salam.memory.transfer import salam_release_records
    from salam.models import resolve_chat_model
    from salam.testing import ScriptedChatModel

    quiet_libraries()
    questions = []
    for qs in load_bbq(available_bbq_categories()).values():
        questions += balanced_prefix(split_task(qs, seed=0)[1], args.per_category)
    folder = Path(tempfile.mkdtemp(prefix="salam-overhead-"))
    try:
        records, _ = salam_release_records(data_dir() / "salam")
        bbq_tasks = {q.task for q in questions}
        with MistakeMemory.open(folder / "m") as memory:
            memory.add([r for r in records if r.task in bbq_tasks])
            memory.similar("warm up", k=1)
            results = {}
            for name, model in [("scripted (zero-cost model)", ScriptedChatModel(replies=["A)"])),
                                ("embedded Gemma 3 270M", resolve_chat_model("local", max_new_tokens=8, batch_size=args.batch_size))]:
                mode = "generate" if name.startswith("scripted") else args.answer_mode
                row = {}
                for condition in CONDITIONS * 2:  # twice, keep the second (warm model)
                    memory.queries.clear()  # cold query-embedding cache: every retrieval embeds its question
                    t = time.perf_counter()
                    out = examine(questions, model, memory, condition=condition, k=args.k, threshold=args.threshold,
                                  answer_mode=mode, batch_size=args.batch_size, record_outcomes=False)
                    row[condition] = (time.perf_counter() - t, sum(bool(r.memories) for r in out),
                                   sum(len(r.prompt) for r in out) / len(out), sum(r.tokens for r in out) / len(out))
                results[name] = (mode, row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    import torch

    lines = [
        "# Examine-mode overhead: `feedback` and `feedback_only` vs `none`", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/examine_overhead.py --per-category {args.per_category} "
        f"--answer-mode {args.answer_mode}`", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, Python {platform.python_version()}. "
        f"{len(questions)} BBQ test questions ({args.per_category} per category, seeded split), batch {args.batch_size}, "
        f"k={args.k}, threshold={args.threshold}. Memory: the SALAM paper's BBQ release (Flan-T5 mistakes + GPT-4 feedback) "
        "embedded with the bundled all-MiniLM-L6-v2.", "",
        "| model | mode | condition | `none` s | condition s | ratio | questions with memory | mean prompt chars none → condition "
        "| mean tokens none → condition | salam overhead per question ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (mode, row) in results.items():
        none_s, _, none_len, none_tok = row["none"]
        for condition in CONDITIONS[1:]:
            src_s, hits, src_len, src_tok = row[condition]
            lines.append(f"| {name} | {mode} | `{condition}` | {none_s:.2f} | {src_s:.2f} | {src_s / none_s:.2f}x | {hits}/{len(questions)} | "
                         f"{none_len:.0f} → {src_len:.0f} | {none_tok:.0f} → {src_tok:.0f} | {1000 * (src_s - none_s) / len(questions):.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
