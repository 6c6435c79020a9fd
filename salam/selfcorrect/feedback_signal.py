"""How well a model's P(wrong) before its feedback separates its wrong attempts from its right ones,
and the threshold that acts on it (TriPosT's ``--wrong-threshold``).

A model that ranks its wrong attempts higher but never past P = 0.5 says "correct" after every attempt
under greedy decoding; a threshold chosen on held-out questions lets that ranking decide the feedback.
"""

from __future__ import annotations

from typing import Any, Sequence

from salam.errors import SalamError


def signal(probabilities: Sequence[float], wrong: Sequence[bool]) -> dict[str, Any]:
    """AUROC of P(wrong) against the attempt being wrong (None when one class is missing), the mean
    P(wrong) per class, and how many attempts have P(wrong) > 0.5."""
    from sklearn.metrics import roc_auc_score

    right_p = [p for p, w in zip(probabilities, wrong) if not w]
    wrong_p = [p for p, w in zip(probabilities, wrong) if w]
    return {"n": len(wrong), "wrong": len(wrong_p),
            "auroc": float(roc_auc_score(list(wrong), list(probabilities))) if right_p and wrong_p else None,
            "p_wrong_if_right": sum(right_p) / len(right_p) if right_p else None,
            "p_wrong_if_wrong": sum(wrong_p) / len(wrong_p) if wrong_p else None,
            "called_wrong": sum(p > 0.5 for p in probabilities)}


def choose_threshold(probabilities: Sequence[float], wrong: Sequence[bool]) -> dict[str, float]:
    """The threshold with the largest Youden J (share of wrong attempts flagged minus share of right ones
    flagged, flagging at P(wrong) >= threshold): without knowing how often an update fixes a wrong answer
    or breaks a right one, the point where a "wrong" call carries the most information. Ties: the highest."""
    from sklearn.metrics import roc_curve

    if all(wrong) or not any(wrong):
        raise SalamError(f"all {len(wrong)} held-out attempts are {'wrong' if any(wrong) else 'right'}: "
                         "no threshold separates them (use more or other questions)")
    fpr, tpr, thresholds = roc_curve(list(wrong), list(probabilities))
    best = max(range(1, len(thresholds)), key=lambda i: (round(tpr[i] - fpr[i], 9), thresholds[i]))  # rounded: ties tie
    return {"threshold": float(thresholds[best]), "flags_wrong": float(tpr[best]), "flags_right": float(fpr[best]),
            "youden_j": float(tpr[best] - fpr[best])}
