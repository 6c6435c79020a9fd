"""The statistics every report uses: accuracy, bootstrap intervals, McNemar tests, and how well a
score separates wrong answers from right ones (AUROC, the Youden threshold).

A bottom-floor module (numpy and the standard library only) so that bench, selfcorrect, train and view
share one copy instead of importing each other for it.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from salam.errors import SalamError


def accuracy(correct: Sequence[bool]) -> float:
    return sum(correct) / len(correct) if correct else float("nan")


def bootstrap_ci(correct: Sequence[bool], n_resamples: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of a share of right answers.

    Resampling n outcomes of which k are right, with replacement, draws Binomial(n, k/n) right ones, so
    the resampled means come from one vectorised binomial draw: exact, and O(resamples) whatever n is.
    """
    if not correct:
        return (float("nan"), float("nan"))
    n = len(correct)
    rng = np.random.default_rng(seed)
    means = np.sort(rng.binomial(n, sum(bool(c) for c in correct) / n, size=n_resamples) / n)
    lo = means[int((1 - level) / 2 * n_resamples)]
    hi = means[min(n_resamples - 1, int((1 + level) / 2 * n_resamples))]
    return (float(lo), float(hi))


def mcnemar(baseline: Sequence[bool], treatment: Sequence[bool]) -> dict[str, float]:
    """Exact (binomial) McNemar test on paired outcomes: b = only baseline right, c = only treatment right."""
    b = sum(1 for x, y in zip(baseline, treatment) if x and not y)
    c = sum(1 for x, y in zip(baseline, treatment) if y and not x)
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "p_value": 1.0}
    tail = sum(math.comb(n, i) for i in range(0, min(b, c) + 1)) / 2**n
    return {"b": b, "c": c, "p_value": min(1.0, 2 * tail)}


def paired_mcnemar(baseline: Mapping[str, bool], treatment: Mapping[str, bool]) -> tuple[int, dict[str, float]] | None:
    """(questions paired, McNemar) of two runs' outcomes keyed by question id, on the ids both have; None if none."""
    shared = [q for q in baseline if q in treatment]
    if not shared:
        return None
    return len(shared), mcnemar([baseline[q] for q in shared], [treatment[q] for q in shared])


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` for ``positive`` (ties count half); None when a class is missing.

    The Mann-Whitney form over average ranks, as scikit-learn's ``roc_auc_score`` gives.
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # 1-based ranks, ties sharing their mean
    rank_sum = float(average_rank[inverse][y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auroc_within_groups(scores: Sequence[float], positive: Sequence[bool], groups: Sequence[str]) -> float | None:
    """AUROC over the (positive, negative) pairs that share a group: how well ``scores`` rank *inside* each group.

    A verifier can reach a high plain AUROC by knowing only which kind of answer is usually wrong (on BBQ an
    "unknown" answer is nearly always right, a named person often wrong); this measure removes that part.
    Each group's AUROC is weighted by its number of pairs; None when no group holds both classes.
    """
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    total = weight = 0.0
    for members in by_group.values():
        y = [bool(positive[i]) for i in members]
        area = auroc([scores[i] for i in members], y)
        if area is not None:
            pairs = sum(y) * (len(y) - sum(y))
            total, weight = total + area * pairs, weight + pairs
    return total / weight if weight else None


def group_prior_auroc(positive: Sequence[bool], groups: Sequence[str]) -> float | None:
    """The AUROC a score that only knows each answer's group would reach: the group's own share of positives
    (measured on the same answers, so an upper bound for such a score)."""
    share: dict[str, list[bool]] = {}
    for g, y in zip(groups, positive):
        share.setdefault(g, []).append(bool(y))
    return auroc([sum(share[g]) / len(share[g]) for g in groups], positive)


def roc_points(scores: Sequence[float], positive: Sequence[bool]) -> list[tuple[float, float, float]]:
    """(threshold, true-positive rate, false-positive rate) flagging ``score >= threshold``, one per distinct
    score from the highest down (scikit-learn's ``roc_curve`` without its leading +inf point)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = max(1, int(y.sum())), max(1, int((~y).sum()))
    points = []
    for threshold in sorted(set(s.tolist()), reverse=True):
        flagged = s >= threshold
        points.append((threshold, float((flagged & y).sum() / n_pos), float((flagged & ~y).sum() / n_neg)))
    return points


def wrong_signal(p_wrong: Sequence[float], wrong: Sequence[bool]) -> dict[str, Any]:
    """How a verifier's P(wrong) separates wrong answers from right ones: AUROC (None when one class is
    missing), the mean P(wrong) per class, and how many answers have P(wrong) > 0.5."""
    right_p = [p for p, w in zip(p_wrong, wrong) if not w]
    wrong_p = [p for p, w in zip(p_wrong, wrong) if w]
    return {"n": len(wrong), "wrong": len(wrong_p), "auroc": auroc(p_wrong, wrong),
            "p_wrong_if_right": sum(right_p) / len(right_p) if right_p else None,
            "p_wrong_if_wrong": sum(wrong_p) / len(wrong_p) if wrong_p else None,
            "called_wrong": sum(p > 0.5 for p in p_wrong)}


def youden_threshold(p_wrong: Sequence[float], wrong: Sequence[bool]) -> dict[str, float]:
    """The threshold with the largest Youden J (share of wrong answers flagged minus share of right ones
    flagged, flagging at P(wrong) >= threshold): without knowing how often a revision fixes a wrong answer
    or breaks a right one, the point where a "wrong" call carries the most information. Ties: the highest."""
    if all(wrong) or not any(wrong):
        raise SalamError(f"all {len(wrong)} held-out answers are {'wrong' if any(wrong) else 'right'}: "
                         "no threshold separates them (use more or other questions)")
    threshold, tpr, fpr = max(roc_points(p_wrong, wrong), key=lambda p: (round(p[1] - p[2], 9), p[0]))  # rounded: ties tie
    return {"threshold": threshold, "flags_wrong": tpr, "flags_right": fpr, "youden_j": tpr - fpr}
