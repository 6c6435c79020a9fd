"""One table of every self-correction method on the same questions: base, SFT, STaSC, SCoRe, TriPosT.

Run: python benchmarks/methods_table.py --out benchmarks/results/methods_compared.md \
         --table "BBQ, 4 shared categories" base=runs/bbq-base-sc sft=runs/bbq-sft-sc@runs/sft-bbq ... \
         [--table TITLE ROW ...] [--versus SFT --versus SCoRe]

A ROW is ``LABEL=BENCH_RUN`` or ``LABEL=BENCH_RUN@TRAINING_FOLDER[+TRAINING_FOLDER...]``: the bench run
(`salam bench ... --self-correct two-attempt`) gives Acc@t1, Acc@t2, Δ, Δi→c, Δc→i (macro over tasks, as
`salam bench report`); the training folders (`salam train ...`, the ones this model was built from
in order, e.g. SFT then SCoRe) give the training time and peak RSS. Each ``--versus LABEL`` adds a
column: exact McNemar of every row's Acc@t2 against that row's, paired by question id.

Written here rather than in `salam bench report` because it joins two formats (bench run folders
and training folders) that each have their own owner; it reads both through those owners.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Row:
    label: str
    run: Path
    trainings: list[Path]


def parse_row(text: str) -> Row:
    if "=" not in text:
        raise SystemExit(f"error: row {text!r} is not LABEL=BENCH_RUN[@TRAINING_FOLDER[+...]]")
    label, rest = text.split("=", 1)
    run, _, trainings = rest.partition("@")
    return Row(label, Path(run), [Path(t) for t in trainings.split("+") if t])


def training_cost(folders: list[Path]) -> tuple[float, float]:
    """(seconds, peak RSS MB) over the folders and their parts (supervised start, stages, iterations)."""
    from salam.train.folder import TrainDir

    seconds, peak = 0.0, 0.0
    for folder in folders:
        parts = [part for _, part in TrainDir(folder).parts()] or [TrainDir(folder)]
        for part in parts:
            m = part.manifest()
            seconds += (m.get("iteration_seconds") or m.get("stage_seconds") or m.get("recipe_seconds")
                        or m.get("train_seconds") or 0.0)
            peak = max(peak, m.get("peak_rss_mb") or 0.0)
    return seconds, peak


def t2_correct(run: Path) -> dict[str, bool]:
    from salam.bench.rundir import SELF_CORRECT, RunDir

    return {q: bool(r["t2"]["correct"]) for q, r in RunDir(run).samples(SELF_CORRECT).items()}


def versus(a: dict[str, bool], b: dict[str, bool]) -> str:
    """b/c = only the row right / only the reference right, exact McNemar p."""
    from salam.stats import paired_mcnemar

    paired = paired_mcnemar(a, b)
    if paired is None:
        return "—"
    test = paired[1]
    return f"{test['b']}/{test['c']}, p {_p(test['p_value'])}"


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"


def table(title: str, rows: list[Row], references: list[str]) -> list[str]:
    from salam.bench.rundir import RunDir

    summaries: dict[str, dict[str, Any]] = {}
    for row in rows:
        summary = RunDir(row.run).summary()
        if "self_correct" not in summary:
            raise SystemExit(f"error: {row.run} has no self-correction results (run `salam bench` with --self-correct two-attempt)")
        summaries[row.label] = summary
    n = {s["n_test"] for s in summaries.values()}
    refs = [r for r in references if r in summaries]
    correct = {row.label: t2_correct(row.run) for row in rows} if refs else {}
    lines = [f"### {title} ({', '.join(str(x) for x in sorted(n))} test questions)", "",
             "| method | model | Acc@t1 % | Acc@t2 % | Δ points | Δi→c % | Δc→i % | t2 vs t1 p | "
             + "".join(f"Acc@t2 vs {r} (b/c, p) | " for r in refs) + "training min | peak RSS GB |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(refs) + "---|---|"]
    for row in rows:
        s = summaries[row.label]
        m = s["self_correct"]["macro"]
        seconds, peak = training_cost(row.trainings)
        cells = [row.label, f"`{s['model']}`", f"{100 * m['acc_t1']:.1f}", f"{100 * m['acc_t2']:.1f}", f"{100 * m['delta']:+.1f}",
                 f"{100 * m['delta_i_to_c']:.1f}", f"{100 * m['delta_c_to_i']:.1f}", _p(m['mcnemar_t2_vs_t1']['p_value']).lstrip("= ")]
        cells += ["—" if r == row.label else versus(correct[row.label], correct[r]) for r in refs]
        cells += [f"{seconds / 60:.1f}" if row.trainings else "—", f"{peak / 1000:.1f}" if row.trainings else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", nargs="+", action="append", required=True, metavar=("TITLE", "ROW"),
                        help="a title, then LABEL=BENCH_RUN[@TRAINING_FOLDER[+...]] rows")
    parser.add_argument("--versus", action="append", default=[], help="label of a row to pair every row with")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    lines = ["# Self-correction methods on the same questions", "",
             f"Command: `{shlex.join(['python', 'benchmarks/methods_table.py', *sys.argv[1:]])}` "
             "(the run folders' own commands: `score.md`, `self_correction.md`, `tripost.md`).", "",
             "Macro over tasks; McNemar exact, paired by question id; training time = the method's own "
             "training folders plus the ones it was built on, as listed (manifests' stage/iteration seconds).", ""]
    from salam.errors import SalamError

    for title, *rows in args.table:
        try:
            lines += table(title, [parse_row(r) for r in rows], args.versus)
        except (SalamError, OSError) as err:  # a missing or unfinished folder: one line, no traceback
            raise SystemExit(f"error: {err}") from None
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
