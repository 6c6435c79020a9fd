"""salam's letter trainer against plain TRL SFTTrainer: examples/s and peak RSS on the same 200 examples.

Run: SALAM_DATA_DIR=... python benchmarks/letter_trainer.py [--examples 200] [--batch-size 8]

Both train the embedded Gemma 3 270M with the same LoRA (r16, all linear layers), batch, learning
rate and one epoch over the same 200 BBQ training questions (answer prompts ending ``Answer: (``).
`salam` is salam.train.letters.LetterTrainer (logits at the answer position only, cross-entropy over
the option letters); `trl` is TRL's SFTTrainer on prompt/completion pairs with completion-only loss
(the head runs over every position). Each runs in its own process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _examples(n: int) -> list[dict]:
    from salam.answering.answerer import answer_prompt
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark

    data, _ = load_benchmark("bbq")
    per_task = max(1, n // len(data))
    questions = side(split_benchmark(data, train_limit=per_task), "train")[:n]
    return [{"prompt": answer_prompt(q), "letters": q.letters, "target": q.answer} for q in questions]


def run_one(which: str, n: int, batch_size: int, out: Path) -> dict:
    from salam.train.base import TrainConfig, load_base, lora_config, prepare_training
    from salam.train.trainer import cpu_trainer_args, peak_rss_mb, quiet_trainer

    prepare_training()
    from datasets import Dataset

    config = TrainConfig(out=out, batch_size=batch_size, grad_accum=1, epochs=1.0)
    rows = _examples(n)
    model, tokenizer, _, _ = load_base(config)
    common = {**cpu_trainer_args(config, quiet=True), "save_strategy": "no"}
    if which == "salam":
        from peft import get_peft_model
        from transformers import TrainingArguments

        from salam.train.letters import LetterCollator, letter_trainer_class

        trainer = letter_trainer_class()(model=get_peft_model(model, lora_config(config)),
                                         args=TrainingArguments(**common, remove_unused_columns=False),
                                         train_dataset=Dataset.from_list(rows), data_collator=LetterCollator(tokenizer))
    else:
        from trl import SFTConfig, SFTTrainer

        pairs = [{"prompt": r["prompt"], "completion": r["target"] + ")"} for r in rows]
        trainer = SFTTrainer(model=model, args=SFTConfig(**common, completion_only_loss=True, packing=False, max_length=1024),
                             train_dataset=Dataset.from_list(pairs), processing_class=tokenizer, peft_config=lora_config(config))
    quiet_trainer(trainer)
    began = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - began
    return {"trainer": which, "examples": len(rows), "seconds": seconds, "examples_per_second": len(rows) / seconds,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--one", choices=["salam", "trl"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/letter_trainer.md"))
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_one(args.one, args.examples, args.batch_size, Path(tmp))))
        return
    results = []
    for which in ("salam", "trl"):
        done = subprocess.run([sys.executable, __file__, "--one", which, "--examples", str(args.examples),
                               "--batch-size", str(args.batch_size)], capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    salam, trl = results
    lines = ["# Letter trainer vs TRL SFTTrainer", "",
             f"Command: `python benchmarks/letter_trainer.py --examples {args.examples} --batch-size {args.batch_size}` · "
             f"{platform.machine()}, 2 cores, CPU · embedded Gemma 3 270M, LoRA r16 on all linear layers, one epoch", "",
             "| trainer | examples | seconds | examples/s | peak RSS MB |", "|---|---|---|---|---|"]
    lines += [f"| {r['trainer']} | {r['examples']} | {r['seconds']:.1f} | {r['examples_per_second']:.2f} | {r['peak_rss_mb']:.0f} |" for r in results]
    lines += ["", f"salam / TRL: {salam['examples_per_second'] / trl['examples_per_second']:.2f}x the examples/s, "
              f"{salam['peak_rss_mb'] - trl['peak_rss_mb']:+.0f} MB peak RSS."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
