"""Two runs paired on the questions both answered: the one comparison that `salam bench report` and
`salam view` both show (accuracy of each, exact McNemar per condition and per self-correction attempt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from salam.bench.rundir import SELF_CORRECT, RunDir
from salam.stats import paired_mcnemar


@dataclass(frozen=True)
class PairedRow:
    """One condition (or attempt) of two runs on their shared questions; b = only the first right, c = only the second."""

    condition: str
    n: int
    acc_a: float
    acc_b: float
    b: int
    c: int
    p: float


def _outcomes(rows: dict[str, dict[str, Any]], correct: Callable[[dict[str, Any]], Any]) -> dict[str, bool]:
    return {qid: bool(correct(row)) for qid, row in rows.items()}


def paired_rows(a: RunDir, b: RunDir, conditions: Sequence[str]) -> list[PairedRow]:
    """Per condition the runs share (and Acc@t1 / Acc@t2 when both ran the self-correction protocol)."""
    pairs = [(c, a.samples(c), b.samples(c), lambda r: r.get("correct")) for c in conditions if c != SELF_CORRECT]
    sc_a, sc_b = a.samples(SELF_CORRECT), b.samples(SELF_CORRECT)
    if sc_a and sc_b:
        pairs += [("Acc@t1", sc_a, sc_b, lambda r: (r.get("t1") or {}).get("correct")),
                  ("Acc@t2", sc_a, sc_b, lambda r: (r.get("t2") or {}).get("correct"))]
    out = []
    for name, rows_a, rows_b, correct in pairs:
        left, right = _outcomes(rows_a, correct), _outcomes(rows_b, correct)
        paired = paired_mcnemar(left, right)
        if paired is None:
            continue
        n, test = paired
        shared = [q for q in left if q in right]
        out.append(PairedRow(name, n, sum(left[q] for q in shared) / n, sum(right[q] for q in shared) / n,
                             int(test["b"]), int(test["c"]), float(test["p_value"])))
    return out
