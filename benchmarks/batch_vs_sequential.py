"""Throughput of the local backend: one `batch` of N prompts vs N sequential `invoke` calls.

Run: python benchmarks/batch_vs_sequential.py [--n 8] [--max-new-tokens 32] [--out benchmarks/results/batch_vs_sequential.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

PROMPTS = [
    "Q: What is the capital of France?\nA:", "Q: Name a fruit that is yellow.\nA:", "Q: What do bees make?\nA:",
    "Q: How many legs does a spider have?\nA:", "Q: What colour is the sky on a clear day?\nA:",
    "Q: Which planet is known as the red planet?\nA:", "Q: What is frozen water called?\nA:",
    "Q: Which animal barks?\nA:", "Q: What do you use to write on a blackboard?\nA:", "Q: What is 3 plus 4?\nA:",
    "Q: Which season comes after winter?\nA:", "Q: What do cows drink?\nA:", "Q: Where do fish live?\nA:",
    "Q: What is the opposite of hot?\nA:", "Q: How many days are in a week?\nA:", "Q: What shape is a wheel?\nA:",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batch_vs_sequential.md"))
    args = parser.parse_args()

    from salam._util.quiet import quiet_libraries
    from salam.models import resolve_chat_model

    quiet_libraries()
    began = time.perf_counter()
    model = resolve_chat_model("local", max_new_tokens=args.max_new_tokens, batch_size=args.n)
    model.invoke("warm up")
    load_s = time.perf_counter() - began
    prompts = (PROMPTS * (args.n // len(PROMPTS) + 1))[: args.n]
    seq_times, batch_times, seq_tokens, batch_tokens = [], [], 0, 0
    for _ in range(args.repeats):
        t = time.perf_counter()
        replies = [model.invoke(p) for p in prompts]
        seq_times.append(time.perf_counter() - t)
        seq_tokens = sum(r.usage_metadata["output_tokens"] for r in replies)
        t = time.perf_counter()
        replies = model.batch(prompts)
        batch_times.append(time.perf_counter() - t)
        batch_tokens = sum(r.usage_metadata["output_tokens"] for r in replies)
    seq, bat = statistics.median(seq_times), statistics.median(batch_times)
    import torch

    text = f"""# Local backend: `batch` vs sequential `invoke`

Command: `python benchmarks/batch_vs_sequential.py --n {args.n} --max-new-tokens {args.max_new_tokens} --repeats {args.repeats}`

Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads,
OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), Python {platform.python_version()}.
Model: embedded Gemma 3 270M (float32, from the salam cache; load + warm-up {load_s:.1f} s). Greedy decoding.
Prompts: {args.n} short questions, up to {args.max_new_tokens} new tokens each. Median of {args.repeats} repeats.

| mode | wall s | output tokens | tokens/s | speed-up |
|---|---|---|---|---|
| {args.n} sequential `invoke` | {seq:.2f} | {seq_tokens} | {seq_tokens / seq:.1f} | 1.0x |
| one `batch` of {args.n} (left-padded) | {bat:.2f} | {batch_tokens} | {batch_tokens / bat:.1f} | {seq / bat:.1f}x |
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
