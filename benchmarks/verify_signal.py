"""Where a trained verifier's AUROC comes from: checking answers, or knowing which kind of answer is usually wrong.

For a `salam train verify` folder, on held-out training-split questions (after the trained and validation
ones, as `salam train rechoose --heldout N` reads them; the test split chooses nothing here), it measures
how well four scores rank wrong first answers above right ones, over all answers and *inside* each answer
kind (`salam.selfcorrect.verify.answer_group`: the task, and on BBQ "unknown" or a named person):

- the verifier's P(wrong) (one forward pass of the verification prompt);
- the answerer's own doubt, 1 − P(its letter) under the answer prompt;
- option-order consistency: 1 − the mean probability of the same option's text when the options are
  rotated by one and by two places (a guess tends to follow the position);
- the answer kind alone (a score that knows only the kind's share of wrong answers).

The verifier's AUROC inside kinds pools the pairs of every kind, so it is also given per kind ("named",
"unknown"): one kind with many pairs can carry the pooled figure.

``--runs DIR ...`` adds the same split for bench runs of `--self-correct verify` (their samples: test
questions, read as analysis only). Writes ``benchmarks/results/verify_signal.md``.

    SALAM_DATA_DIR=../shared/data python benchmarks/verify_signal.py runs/verify-keep-lo-1k --per-task 150 \\
        --runs runs/bbq-lo-verify-reading-sc
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "verify_signal.md"


def softmax(xs: Sequence[float]) -> list[float]:
    top = max(xs)
    e = [math.exp(x - top) for x in xs]
    return [v / sum(e) for v in e]


def rotated(question: Any, shift: int) -> Any:
    """The question with its options rotated by ``shift`` places (the gold letter moved with its option)."""
    k = len(question.options)
    order = [(i + shift) % k for i in range(k)]
    gold = question.letters[order.index(question.letters.index(question.answer))]
    metadata = dict(question.metadata or {})
    if metadata.get("unknown_letter") in question.letters:
        metadata["unknown_letter"] = question.letters[order.index(question.letters.index(metadata["unknown_letter"]))]
    return question.model_copy(update={"options": [question.options[i] for i in order], "answer": gold, "metadata": metadata})


def heldout_rows(folder: Path, per_task: int, batch_size: int) -> tuple[list[dict], dict]:
    """One row per held-out question: the first answer, whether it is right, its kind and the four scores."""
    from langchain_core.messages import HumanMessage

    from salam.answering.answerer import Answerer
    from salam.models import resolve_chat_model
    from salam.selfcorrect.verify import VerifyRunner, answer_group
    from salam.train.verify import heldout_questions, read_verify_folder
    from salam.types import Attempt

    manifest, config = read_verify_folder(folder)
    questions = heldout_questions(config, per_task)
    model = resolve_chat_model(manifest["spec"], max_new_tokens=12, batch_size=batch_size)
    answerer = Answerer(model, "choice", batch_size)

    def letter_probs(qs: list) -> list[list[float]]:
        prompts = [model.format_prompt([HumanMessage(answerer.prompt(q))]) for q in qs]
        return [softmax(s) for s in model.score_options(prompts, [q.letters for q in qs])]

    began = time.perf_counter()
    probs = letter_probs(questions)
    first = [q.letters[max(range(len(p)), key=p.__getitem__)] for q, p in zip(questions, probs)]
    attempts = [Attempt(round=1, prompt="", output=a, answer=a, correct=a == q.answer) for q, a in zip(questions, first)]
    p_wrong = VerifyRunner(model, "choice", batch_size).verdicts(questions, attempts, [""] * len(questions))
    turns = [(shift, [rotated(q, shift) for q in questions]) for shift in (1, 2)]
    moved = [(qs, letter_probs(qs)) for _, qs in turns]
    rows = []
    for i, (q, p, a) in enumerate(zip(questions, probs, first)):
        text = q.options[q.letters.index(a)]
        same = [ps[i][qs[i].options.index(text)] for qs, ps in moved]
        rows.append({"id": q.id, "group": answer_group(q, a), "wrong": a != q.answer, "p_wrong": p_wrong[i],
                     "doubt": 1 - p[q.letters.index(a)], "inconsistency": 1 - sum(same) / len(same)})
    return rows, {"spec": manifest["spec"], "questions": len(questions), "per_task": per_task,
                  "seconds": time.perf_counter() - began, "tasks": config.tasks}


def run_rows(run: Path) -> list[dict]:
    """Rows of a bench run of `--self-correct verify`: its test questions' first answers and P(wrong)."""
    from salam.data.questions import load_benchmark
    from salam.selfcorrect.verify import answer_group

    manifest = json.loads((run / "manifest.json").read_text())
    samples = [json.loads(line) for line in (run / "samples" / "self_correct.jsonl").read_text().splitlines() if line.strip()]
    config = manifest["config"]
    data, _ = load_benchmark(config["benchmark"], config.get("tasks"), config.get("data_dir"))
    by_id = {q.id: q for qs in data.values() for q in qs}
    return [{"id": r["question_id"], "group": answer_group(by_id[r["question_id"]], r["t1"]["answer"]),
             "wrong": not r["t1"]["correct"], "p_wrong": float(r["p_wrong"])} for r in samples if "p_wrong" in r]


def measures(rows: list[dict], scores: Sequence[str]) -> dict[str, Any]:
    from salam.selfcorrect.verify import auroc_by_kind
    from salam.stats import auroc, auroc_within_groups, group_prior_auroc

    wrong = [r["wrong"] for r in rows]
    groups = [r["group"] for r in rows]
    out: dict[str, Any] = {"n": len(rows), "wrong": sum(wrong), "kind_alone": group_prior_auroc(wrong, groups)}
    for name in scores:
        values = [r[name] for r in rows]
        out[name] = (auroc(values, wrong), auroc_within_groups(values, wrong, groups))
    kinds: dict[str, list[bool]] = {}
    for r in rows:
        kinds.setdefault(r["group"].split("/")[-1], []).append(r["wrong"])
    out["kinds"] = {k: (len(v), sum(v)) for k, v in sorted(kinds.items())}
    out["verifier_by_kind"] = auroc_by_kind([r["p_wrong"] for r in rows], wrong, groups)
    return out


def by_kind(result: dict[str, Any]) -> str:
    return ", ".join(f"{k} {fmt(a)}" for k, a in result["verifier_by_kind"].items())


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a `salam train verify` folder")
    parser.add_argument("--per-task", type=int, default=150, help="held-out training-split questions per task")
    parser.add_argument("--runs", type=Path, nargs="*", default=[], help="bench runs of --self-correct verify (test, analysis)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rows, about = heldout_rows(args.folder, args.per_task, args.batch_size)
    held = measures(rows, ("p_wrong", "doubt", "inconsistency"))
    lines = ["# Where the verifier's AUROC comes from", "",
             f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/verify_signal.py {args.folder} --per-task {args.per_task}"
             + (" --runs " + " ".join(map(str, args.runs)) if args.runs else "") + "` · machine: "
             f"{platform.machine()}, 2 cores · model: `{about['spec']}` · held-out: {about['questions']} training-split questions "
             f"({about['per_task']} per task of {', '.join(about['tasks'] or ['all tasks'])}, after the trained and validation ones; "
             f"{about['seconds']:.0f} s), choice mode.", "",
             "AUROC of each score for a wrong first answer, over all answers and inside each answer kind (on BBQ: the "
             "task, and \"unknown\" or a named person). *The kind alone* is a score that knows only each kind's share "
             "of wrong answers.", "",
             "| questions | n | wrong | kinds: n (wrong) | the kind alone | verifier P(wrong): all / inside kinds | "
             "verifier inside each kind | answerer's doubt: all / inside | option-order inconsistency: all / inside |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| held-out (training split) | {held['n']} | {held['wrong']} | "
             + ", ".join(f"{k} {n} ({w})" for k, (n, w) in held["kinds"].items())
             + f" | {fmt(held['kind_alone'])} | {fmt(held['p_wrong'][0])} / {fmt(held['p_wrong'][1])} | {by_kind(held)} | "
             + " | ".join(f"{fmt(held[s][0])} / {fmt(held[s][1])}" for s in ("doubt", "inconsistency")) + " |"]
    for run in args.runs:
        test = measures(run_rows(run), ("p_wrong",))
        lines.append(f"| test, `{run}` (analysis) | {test['n']} | {test['wrong']} | "
                     + ", ".join(f"{k} {n} ({w})" for k, (n, w) in test["kinds"].items())
                     + f" | {fmt(test['kind_alone'])} | {fmt(test['p_wrong'][0])} / {fmt(test['p_wrong'][1])} | {by_kind(test)} | — | — |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
