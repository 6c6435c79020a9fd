"""Does curation cost a model trained to use guidelines anything? The verify recipe trained with `--memory`.

Run: SALAM_DATA_DIR=../shared/data python benchmarks/curation_guidelines.py --raw DIR --model SPEC
     [--out benchmarks/results/curation_guidelines.md]

--raw is a memory the SALAM release was imported into (`salam memory import --salam $SALAM_DATA_DIR/salam
--memory DIR`), copied, never changed. --model is a `salam train verify --memory` model (its verification and
revision prompts carried that memory's guidelines in training). The README job's 160 BBQ test questions under
`salam bench bbq --no-gather --conditions none --self-correct verify --self-correct-memory` with the raw memory,
the curated one (`salam memory curate` at its defaults) and the curated one with `--rank distinct`; McNemar of
each run's Acc@t2 against the raw memory's, paired by question. `benchmarks/curation.py` measures the same for
models that only read guidelines in the answer prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from curation import downstream

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True, help="A memory holding the imported SALAM release (copied).")
    parser.add_argument("--model", required=True, help="A `salam train verify --memory` model spec: local+lora:DIR.")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/curation_guidelines.md")
    args = parser.parse_args()
    from salam.memory import MistakeMemory
    from salam.memory.curate import DEFAULT_CURATE_THRESHOLD, curate

    work = Path(tempfile.mkdtemp(prefix="salam-curation-guidelines-"))
    subprocess.run(["cp", "-r", str(args.raw), str(work / "raw")], check=True)
    subprocess.run(["cp", "-r", str(args.raw), str(work / "curated")], check=True)
    with MistakeMemory.open(work / "curated", create=False) as memory:
        report = curate(memory, DEFAULT_CURATE_THRESHOLD, work / "export.jsonl")
    folder = Path(args.model.split(":", 1)[1]) if ":" in args.model else None
    trained = json.loads((folder / "salam_train_manifest.json").read_text()) if folder else {}
    lines = [
        "# Curation and a model trained to use guidelines", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/curation_guidelines.py --raw DIR --model {args.model}` · "
        f"machine: {platform.machine()}, {os.cpu_count()} cores · memory: the SALAM release imported with all-MiniLM-L6-v2, "
        f"{report.records_before} records; curated at cosine {DEFAULT_CURATE_THRESHOLD}: {report.records_after} · model: "
        f"`salam train verify` with the memory's guidelines in training ({trained.get('method', '?')}, with_memory "
        f"{trained.get('with_memory')}, {trained.get('train_questions', '?')} questions of {', '.join(trained.get('tasks', []))}) · "
        "questions: the README job's 160 BBQ test questions, `--self-correct verify --self-correct-memory`.", "",
        "| bench | model | memory | Acc@t2 % | vs raw (b/c, p) | bench s |", "|---|---|---|---|---|---|",
        *downstream(work, args.model, self_correct=True),
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
