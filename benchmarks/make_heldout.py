"""Held-out mistakes for `salam train eval-assistant`: teacher examples an adapter was not trained on.

Run: python benchmarks/make_heldout.py --teacher $SALAM_DATA_DIR/salam/bbq_feedback_gpt4.json --exclude ADAPTER/train.jsonl --n 40 --out heldout.jsonl
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from salam.train.il.data import build_examples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teacher", type=Path, action="append", required=True)
    parser.add_argument("--exclude", type=Path, action="append", default=[])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    used = {json.loads(line)["prompt"] for path in args.exclude for line in path.read_text().splitlines() if line.strip()}
    train, val, _ = build_examples(teacher=args.teacher, seed=args.seed, validation_fraction=0.0)
    fresh = [e for e in train + val if e.prompt not in used][: args.n]
    args.out.write_text("".join(json.dumps(asdict(e)) + "\n" for e in fresh))
    print(f"{len(fresh)} held-out examples (excluded {len(used)} training prompts) -> {args.out}")


if __name__ == "__main__":
    main()
