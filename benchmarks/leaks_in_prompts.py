"""Does any guideline that names a question's answer reach the main model? Checks a run folder's prompts.

Run: SALAM_DATA_DIR=... python benchmarks/leaks_in_prompts.py RUN_DIR [RUN_DIR ...]

For every sample of every memory condition, each guideline in the prompt's guidance part (the
``Guideline: ...`` lines of the feedback and agent conditions, the ``- ...`` lines of feedback_only) is
checked with the leakage guard against that question's options and answer. The past cases' own
question text and options are not guidelines: a BBQ case lists "Not enough info" among its options
whatever its answer, and the `mistake` condition shows past correct answers by design.
"""

from __future__ import annotations

import sys
from pathlib import Path

from salam.assistant.leakage import find_leak
from salam.bench.rundir import RunDir
from salam.data.questions import load_benchmark


def main() -> None:
    for folder in sys.argv[1:]:
        run = RunDir(Path(folder))
        manifest = run.manifest()
        config = manifest["config"]
        data, _ = load_benchmark(config["benchmark"], config["tasks"], config["data_dir"])
        questions = {q.id: q for qs in data.values() for q in qs}
        for condition in config["conditions"]:
            rows = run.samples(condition)
            with_memory = [r for r in rows.values() if r["memories"] or r.get("agent_guideline")]
            leaking = []
            for row in with_memory:
                q = questions[row["question_id"]]
                guidance = row["prompt"].rsplit(f"Question: {q.render()}", 1)[0]
                guidelines = [line.split(":", 1)[1] if line.startswith("Guideline:") else line[2:]
                              for line in guidance.splitlines() if line.startswith(("Guideline:", "- "))]
                if any(find_leak(g, q) for g in guidelines):
                    leaking.append(row["question_id"])
            redacted = sum(int(r.get("redacted", 0)) for r in rows.values())
            print(f"{folder} {condition}: {len(rows)} prompts, {len(with_memory)} with memory, "
                  f"{redacted} guidelines redacted before use, {len(leaking)} prompts still naming the answer {leaking[:5]}")


if __name__ == "__main__":
    main()
