"""Does a TriPosT-trained model's feedback turn tell its right attempts from its wrong ones?

A TriPosT model that says "All steps are correct." after every attempt never corrects itself. That can
mean two things: it cannot tell right from wrong at all, or it can a little but "correct" always wins
the greedy choice. This reads the model's own first attempts from a ``salam bench --self-correct two-attempt
tripost`` run, appends ``Feedback:`` exactly as the runner does, and takes the model's next-token
log-probabilities of `` All`` (the start of "All steps are correct.") and `` In`` (the start of "In step N
the part ... is incorrect.") in one forward pass per batch. P(wrong) is the softmax over the two.

- AUROC of P(wrong) against the attempt being wrong: 0.5 = no signal, 1.0 = a perfect checker.
- Mean P(wrong) on right and on wrong attempts, and how many attempts have P(wrong) > 0.5 (" In" above " All";
  greedy decoding may still pick a third token).

    python benchmarks/tripost_feedback_signal.py --out benchmarks/results/tripost_feedback_signal.md \\
        --row LABEL BENCH_RUN MODEL_SPEC [--row ...]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from salam.stats import wrong_signal


def p_wrong(model: Any, records: list[dict[str, Any]]) -> list[float]:
    """P(the feedback starts " In" rather than " All") after each record's first attempt (the runner's own turn text)."""
    from salam.train.tripost.runner import wrong_probability

    return wrong_probability(model, [r["t1"]["prompt"] for r in records], [r["t1"]["output"].rstrip() for r in records])


def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--row", nargs=3, action="append", required=True, metavar=("LABEL", "BENCH_RUN", "MODEL_SPEC"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from salam.bench.rundir import SELF_CORRECT, RunDir
    from salam.errors import SalamError
    from salam.models import resolve_chat_model

    lines = ["# Does the TriPosT feedback turn separate right attempts from wrong ones?", "",
             f"Command: `{shlex.join(['python', 'benchmarks/tripost_feedback_signal.py', *sys.argv[1:]])}`", "",
             "P(wrong) = the model's next-token probability of ` In` (\"In step N ... is incorrect\") against ` All`",
             "(\"All steps are correct.\") right after its own first attempt and `Feedback:`; AUROC 0.5 = no signal.", "",
             "| model | bench run | attempts | wrong | AUROC | mean P(wrong), right attempts | mean P(wrong), wrong attempts "
             "| P(wrong) > 0.5 |", "|---|---|---|---|---|---|---|---|"]
    for label, run, spec in args.row:
        try:
            records = list(RunDir(Path(run)).samples(SELF_CORRECT).values())
            if not records or "trajectory" not in records[0]:
                raise SalamError(f"{run} has no tripost self-correction samples (salam bench --self-correct tripost)")
            model = resolve_chat_model(spec, batch_size=8)
            if not hasattr(model, "score_options"):
                raise SalamError(f"{spec} is not a local model: its next-token probabilities cannot be read")
        except (SalamError, OSError) as err:
            raise SystemExit(f"error: {err}") from None
        s = wrong_signal(p_wrong(model, records), [not r["t1"]["correct"] for r in records])
        lines.append(f"| {label} | `{run}` | {s['n']} | {s['wrong']} | {_cell(s['auroc'])} | {_cell(s['p_wrong_if_right'])} "
                     f"| {_cell(s['p_wrong_if_wrong'])} | {s['called_wrong']} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
