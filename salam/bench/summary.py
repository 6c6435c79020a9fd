"""summary.json from a run's sample logs: per-task accuracy, intervals, McNemar vs ``none``, BBQ bias, memory effects.

Computed only from the logs, never from in-process state, so a resumed run summarises exactly as an
uninterrupted one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from salam.bench.bias import bbq_scores
from salam.bench.rundir import SELF_CORRECT, RunDir
from salam.stats import accuracy, bootstrap_ci, mcnemar
from salam.types import Question, memory_outcome


def summarise(run: RunDir, test: Sequence[Question], conditions: Sequence[str], model: str, assistant: str) -> dict[str, Any]:
    """The run's summary, from its manifest and sample logs alone."""
    manifest = run.manifest()
    by_condition = {c: run.samples(c) for c in conditions}
    is_bbq = manifest["config"]["benchmark"] == "bbq"
    tasks = sorted({q.task for q in test})
    summary: dict[str, Any] = {
        "benchmark": manifest["config"]["benchmark"], "model": model, "assistant": assistant,
        "answer_mode": manifest["config"]["answer_mode"], "letter_scoring": manifest.get("letter_scoring"),
        "n_test": len(test), "tasks": tasks,
        "k": manifest["config"]["k"], "threshold": manifest["config"]["threshold"], "conditions": {},
    }
    baseline = by_condition.get("none")
    for condition, rows in by_condition.items():
        present = [q for q in test if q.id in rows]
        correct = [bool(rows[q.id]["correct"]) for q in present]
        answers = [rows[q.id]["answer"] for q in present]
        per_task = {}
        for task in tasks:
            flags = [bool(rows[q.id]["correct"]) for q in present if q.task == task]
            lo, hi = bootstrap_ci(flags)
            per_task[task] = {"accuracy": accuracy(flags), "ci95": [lo, hi], "n": len(flags)}
        lo, hi = bootstrap_ci(correct)
        entry: dict[str, Any] = {
            "n": len(present), "accuracy": accuracy(correct), "ci95": [lo, hi],
            "macro_accuracy": sum(t["accuracy"] for t in per_task.values() if t["n"]) / max(1, sum(1 for t in per_task.values() if t["n"])),
            "per_task": per_task,
            "unparsed": sum(1 for a in answers if a is None),
            "with_memory": sum(1 for q in present if rows[q.id]["memories"]),
            "redacted": sum(int(rows[q.id].get("redacted", 0)) for q in present),
            "tokens": sum(int(rows[q.id].get("tokens", 0)) for q in present),
        }
        if is_bbq:
            entry["bbq"] = bbq_scores(present, answers, correct)
        if baseline is not None and condition != "none":
            paired = [q for q in present if q.id in baseline]
            entry["vs_none"] = mcnemar([bool(baseline[q.id]["correct"]) for q in paired], [bool(rows[q.id]["correct"]) for q in paired])
            entry["memory_effects"] = _memory_effects(paired, baseline, rows)
        summary["conditions"][condition] = entry
    summary["assistant_stats"] = run.assistant_stats()
    if run.requests():
        summary["requests"] = run.requests()
    if manifest["config"].get("self_correct"):
        summary["self_correct"] = _self_correct(run, test, bool(manifest["config"].get("self_correct_memory")),
                                                manifest["config"].get("wrong_threshold"))
    return summary


def _self_correct(run: RunDir, test: Sequence[Question], with_memory: bool, wrong_threshold: float | None = None,
                  ) -> dict[str, Any]:
    """The two-attempt metrics per task and macro, from the self-correction sample log."""
    from salam.selfcorrect.metrics import summarise_two_attempts

    rows = run.samples(SELF_CORRECT)
    present = [q for q in test if q.id in rows]
    out = summarise_two_attempts([(q.task, bool(rows[q.id]["t1"]["correct"]), bool(rows[q.id]["t2"]["correct"]))
                                  for q in present])
    out["with_memory"] = with_memory
    tripost = [rows[q.id] for q in present if "rounds" in rows[q.id]]
    if tripost:  # TriPosT's own measures: updates made, and wrong answers the model declared correct
        wrong_final = [r for r in tripost if not r["t2"]["correct"]]
        out["tripost"] = {"mean_rounds": sum(int(r["rounds"]) for r in tripost) / len(tripost),
                          "claims_correct_when_wrong": sum(bool(r["claimed_correct_when_wrong"]) for r in tripost),
                          "wrong_final": len(wrong_final), "wrong_threshold": wrong_threshold}
    verified = [q for q in present if "revised" in rows[q.id]]
    if verified:  # verify-then-revise: how the verifier ranked, how often it revised, how often a revision fixed
        from salam.selfcorrect.verify import answer_group, verifier_metrics

        out["verify"] = verifier_metrics([rows[q.id] for q in verified],
                                         [answer_group(q, rows[q.id]["t1"]["answer"]) for q in verified])
    out["attempt2_with_guidelines"] = sum(1 for q in present if rows[q.id].get("memories"))
    out["redacted"] = sum(int(rows[q.id].get("redacted", 0)) for q in present)
    return out


def _memory_effects(paired: Sequence[Question], baseline: dict, rows: dict) -> dict[str, Any]:
    """Which retrieved memories flipped answers, helped and hurt as :func:`memory_outcome` defines them."""
    counts: dict[str, dict[str, int]] = {"helped": defaultdict(int), "hurt": defaultdict(int)}
    flips = {"wrong_to_right": 0, "right_to_wrong": 0}
    for q in paired:
        outcome = memory_outcome(bool(rows[q.id]["correct"]), bool(baseline[q.id]["correct"]))
        if outcome is None:
            continue
        flips["wrong_to_right" if outcome == "helped" else "right_to_wrong"] += 1
        for m in rows[q.id]["memories"]:
            counts[outcome][m["id"]] += 1
    helped, hurt = counts["helped"], counts["hurt"]
    top = lambda d: sorted(d.items(), key=lambda kv: -kv[1])[:5]  # noqa: E731
    return {**flips, "top_helpful_memories": top(helped), "top_harmful_memories": top(hurt)}
