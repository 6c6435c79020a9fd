"""The leakage guard measured on a hand-labelled set of guidelines: caught, missed, false alarms.

The set (``benchmarks/data/leakage_labels.jsonl``) holds 139 guidelines, each labelled by reading it:
- 80 GPT-4 guidelines of the SALAM release (60 BBQ, 20 BBH; seeded sample), referenced by file and
  index and read from ``$SALAM_DATA_DIR/salam`` (the data is not copied here);
- 33 guidelines the embedded Gemma 3 270M assistant wrote in the README main job's gather step
  (question ids refer to ``$SALAM_DATA_DIR/bbq``);
- 26 crafted ones with the phrasings the guard used to miss ("Go with C", "answer: c", "Ｃ", ...)
  and near-misses that name nothing ("choose a person ...").

Label rule: a guideline names the answer when it gives the correct option's letter as a choice, its
position ("third option"), or the option's own words (ignoring case, a leading article and
can't/cannot). A paraphrase of the answer ("the option indicating lack of information" for "Not
enough info") is not labelled: no string rule can check it, and it is also what a general lesson
looks like.

    python benchmarks/leakage_guard.py [--out benchmarks/results/leakage_guard.md]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from salam.answering.options import split_options
from salam.assistant.leakage import find_leak
from salam.data.bbq import BBQ_CATEGORIES, available_bbq_categories, load_bbq
from salam.memory.transfer import salam_release_records
from salam.types import Question

LABELS = Path(__file__).parent / "data" / "leakage_labels.jsonl"


def load_set(data_dir: Path) -> list[tuple[str, str, Question, bool]]:
    """(source, guideline, question, label) for every labelled row."""
    records, _ = salam_release_records(data_dir / "salam")
    by_file: dict[str, list] = {}
    for r in records:
        if r.kind == "mistake":
            prefix = "bbq" if r.task in BBQ_CATEGORIES else "bbh"
            by_file.setdefault(f"{prefix}_flan_t5_mistakes.json", []).append(r)
    bbq = {q.id: q for qs in load_bbq(available_bbq_categories(data_dir), data_dir).values() for q in qs}
    rows = []
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["source"] == "release-gpt4":
            r = by_file[item["file"]][item["index"]]
            question = Question(id=r.id, task=r.task, text=split_options(r.question)[0], options=r.options, answer=r.true_answer)
            guideline = r.guideline
        elif item["source"] == "assistant-gemma270m":
            question, guideline = bbq[item["question_id"]], item["guideline"]
        else:
            question = Question(id="crafted", task=item["task"], text=item["text"], options=item["options"], answer=item["answer"])
            guideline = item["guideline"]
        rows.append((item["source"], guideline, question, bool(item["label"])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("SALAM_DATA_DIR", "../shared/data"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = load_set(Path(args.data_dir))
    table = ["| source | guidelines | naming the answer (labels) | caught | missed | false alarms |", "|---|---|---|---|---|---|"]
    wrong = []
    for source in ["release-gpt4", "assistant-gemma270m", "crafted", "all"]:
        part = [r for r in rows if source in ("all", r[0])]
        flags = [(find_leak(g, q), label) for _, g, q, label in part]
        caught = sum(f and label for f, label in flags)
        missed = sum(label and not f for f, label in flags)
        false = sum(f and not label for f, label in flags)
        table.append(f"| {source} | {len(part)} | {sum(label for _, label in flags)} | {caught} | {missed} | {false} |")
        if source != "all":
            wrong += [(src, g, q, label) for (src, g, q, label), (f, _) in zip(part, flags) if f != label]
    lines = ["# Leakage guard on hand-labelled guidelines", "", f"Command: `python benchmarks/leakage_guard.py` · "
             f"set: `{LABELS.relative_to(Path(__file__).parent.parent)}` ({len(rows)} guidelines)", "", *table, "",
             "Disagreements (label → guard):", ""]
    for src, g, q, label in wrong:
        answer = q.option_text(q.answer) if q.options else q.answer
        lines.append(f"- {src}, answer ({q.answer}) {answer!r}: labelled {'leak' if label else 'clean'}, guard says "
                     f"{'clean' if label else 'leak'}: {g[:160]!r}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
