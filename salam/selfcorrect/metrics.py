"""The self-correction metrics of SCoRe's table: Acc@t1, Acc@t2, Δ, Δi→c, Δc→i, with intervals and McNemar."""

from __future__ import annotations

from typing import Any, Sequence

from salam.stats import accuracy, bootstrap_ci, mcnemar

KEYS = ("acc_t1", "acc_t2", "delta", "delta_i_to_c", "delta_c_to_i")


def two_attempt_metrics(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    """Shares in [0, 1] over (correct at t1, correct at t2) pairs, 95% bootstrap intervals, McNemar t2 vs t1."""
    t1 = [a for a, _ in pairs]
    t2 = [b for _, b in pairs]
    n = len(pairs)
    i_to_c = sum(1 for a, b in pairs if not a and b)
    c_to_i = sum(1 for a, b in pairs if a and not b)
    acc1, acc2 = accuracy(t1), accuracy(t2)
    return {
        "n": n, "acc_t1": acc1, "acc_t2": acc2, "delta": acc2 - acc1,
        "delta_i_to_c": i_to_c / n if n else float("nan"), "delta_c_to_i": c_to_i / n if n else float("nan"),
        "ci95_t1": list(bootstrap_ci(t1)), "ci95_t2": list(bootstrap_ci(t2)),
        "mcnemar_t2_vs_t1": mcnemar(t1, t2),
    }


def summarise_two_attempts(rows: Sequence[tuple[str, bool, bool]]) -> dict[str, Any]:
    """``{"macro": ..., "pooled": ..., "per_task": {...}}`` from (task, correct t1, correct t2) rows.

    Macro is the unweighted mean of each task's shares (BBH's convention); pooled treats every question
    alike and carries the McNemar test over all questions.
    """
    tasks = sorted({t for t, _, _ in rows})
    per_task = {t: two_attempt_metrics([(a, b) for task, a, b in rows if task == t]) for t in tasks}
    macro = {key: sum(m[key] for m in per_task.values()) / len(per_task) for key in KEYS} if per_task else {}
    pooled = two_attempt_metrics([(a, b) for _, a, b in rows])
    macro.update(n=pooled["n"], tasks=len(per_task), mcnemar_t2_vs_t1=pooled["mcnemar_t2_vs_t1"])
    return {"macro": macro, "pooled": pooled, "per_task": per_task}
