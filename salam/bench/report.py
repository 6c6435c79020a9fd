"""Markdown tables and PNG plots from one or more run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from salam._util.text import markdown_text as md
from salam.bench.rundir import RunDir


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"


def _ci(ci: Sequence[float]) -> str:
    return "" if not ci or ci[0] != ci[0] else f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _requests_text(requests: dict[str, dict[str, int]]) -> str:
    """``none: 160 requests, 2 retries, 0 errors; ...`` (replayed answers and missing letters only when there are)."""
    parts = []
    for stage, row in requests.items():
        text = f"{stage}: {row.get('requests', 0)} requests, {row.get('retries', 0)} retries, {row.get('errors', 0)} errors"
        for key in ("replayed", "missing_letters"):
            if row.get(key):
                text += f", {row[key]} {key.replace('_', ' ')}"
        parts.append(text)
    return "; ".join(parts)


def run_markdown(run_dir: Path) -> str:
    """The Markdown report of one finished run."""
    run = RunDir(run_dir)
    summary, manifest, timings = run.summary(), run.manifest(), run.timings()
    cfg = manifest["config"]
    conds = summary["conditions"]
    lines = [
        f"# {summary['benchmark'].upper()} run {md(run_dir.name)}", "",
        f"- model: {md(summary['model'])} · assistant: {md(summary['assistant'])} · answer mode: **{md(summary['answer_mode'])}**",
        f"- test questions: {summary['n_test']} ({len(summary['tasks'])} tasks) · " + (
            f"train questions gathered on: {sum(len(v['train']) for v in manifest['split'].values())} · rounds {cfg['rounds']}"
            if cfg.get("gather", True) else f"no gathering: the memory as it was (namespace {md(manifest.get('namespace', 'default'))})"),
        f"- retrieval: k={summary['k']}, threshold={summary['threshold']}, rank {cfg.get('rank', 'similarity')} · split: {cfg['split']} (seed {cfg['seed']}) · "
        f"salam {manifest['salam_version']} · git {manifest['git_sha'][:10]}",
        f"- assistant: {summary.get('assistant_stats', {})}",
        *([f"- letters scored by: {md(summary['letter_scoring'])}"] if summary.get("letter_scoring") else []),
        *([f"- requests per stage: {md(_requests_text(summary['requests']))}"] if summary.get("requests") else []), "",
        "| condition | accuracy % [95% CI] | macro % | vs none (b/c, McNemar p) | with memory | unparsed | tokens | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in conds.items():
        vs = c.get("vs_none")
        vs_text = f"{vs['b']}/{vs['c']}, p={vs['p_value']:.3f}" if vs else "—"
        lines.append(f"| {name} | {_pct(c['accuracy'])}{_ci(c['ci95'])} | {_pct(c['macro_accuracy'])} | {vs_text} | "
                     f"{c['with_memory']}/{c['n']} | {c['unparsed']} | {c['tokens']} | {timings.get(name, float('nan')):.0f} |")
    if "gather" in timings:
        lines.append(f"\nGather on the train split took {timings['gather']:.0f} s.")
    if any("bbq" in c for c in conds.values()):
        lines += ["", "## BBQ: ambiguous vs disambiguated, bias scores", "",
                  "| condition | acc ambig % | acc disambig % | bias s_DIS | bias s_AMB |", "|---|---|---|---|---|"]
        for name, c in conds.items():
            b = c["bbq"]
            lines.append(f"| {name} | {_pct(b['acc_ambig'])} | {_pct(b['acc_disambig'])} | {b['bias_disambig']:.3f} | {b['bias_ambig']:.3f} |")
    if conds:
        lines += ["", "## Per task (accuracy %)", "", "| task | n | " + " | ".join(conds) + " |", "|---|---|" + "---|" * len(conds)]
    for task in summary["tasks"] if conds else []:
        n = next(iter(conds.values()))["per_task"][task]["n"]
        lines.append(f"| {task} | {n} | " + " | ".join(_pct(c["per_task"][task]["accuracy"]) for c in conds.values()) + " |")
    effects = {n: c["memory_effects"] for n, c in conds.items() if "memory_effects" in c}
    if effects:
        lines += ["", "## What memory changed (paired with `none`)", "", "| condition | wrong→right | right→wrong | most harmful memories (id: flips) |", "|---|---|---|---|"]
        for name, e in effects.items():
            harmful = ", ".join(f"`{i}`: {n}" for i, n in e["top_harmful_memories"][:3]) or "—"
            lines.append(f"| {name} | {e['wrong_to_right']} | {e['right_to_wrong']} | {harmful} |")
    if "self_correct" in summary:
        lines += self_correct_markdown(summary["self_correct"])
    return "\n".join(lines) + "\n"


def _sc_row(label: str, m: dict) -> str:
    test = m.get("mcnemar_t2_vs_t1") or {}
    p = f"{test['b']}/{test['c']}, p={test['p_value']:.3f}" if test else "—"
    return (f"| {label} | {m['n']} | {_pct(m['acc_t1'])}{_ci(m.get('ci95_t1', []))} | {_pct(m['acc_t2'])}{_ci(m.get('ci95_t2', []))} | "
            f"{100 * m['delta']:+.1f} | {_pct(m['delta_i_to_c'])} | {_pct(m['delta_c_to_i'])} | {p} |")


def self_correct_markdown(sc: dict) -> list[str]:
    """The two-attempt table: per task, pooled and macro."""
    protocol = ("TriPosT: attempt, own feedback, updates; t2 = final answer" if sc.get("tripost") else
                "verify, then revise: t2 = the final answer" if sc.get("verify") else "two attempts")
    lines = ["", f"## Self-correction ({protocol}" + (", attempt 2 with the memory's guidelines" if sc.get("with_memory") else "") + ")", "",
             "| tasks | n | Acc@t1 % [95% CI] | Acc@t2 % [95% CI] | Δ points | Δi→c % | Δc→i % | t2 vs t1 (b/c, McNemar p) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_sc_row(md(task), m) for task, m in sc["per_task"].items()]
    lines.append(_sc_row("**pooled**", sc["pooled"]))
    lines.append(_sc_row("**macro**", {**sc["macro"], "ci95_t1": [], "ci95_t2": []}))
    if sc.get("tripost"):
        tp = sc["tripost"]
        lines.append(f"\nTriPosT mode: attempt 2 is the final answer after the model's own feedback and updates; "
                     f"mean updates {tp['mean_rounds']:.2f}; the model declared a wrong answer correct for "
                     f"{tp['claims_correct_when_wrong']} of the {tp['wrong_final']} questions it ended wrong"
                     + (f"; its feedback named a wrong step when its P(wrong) reached {tp['wrong_threshold']} "
                        "(--wrong-threshold)." if tp.get("wrong_threshold") is not None else "."))
    if sc.get("verify"):
        lines += verify_markdown(sc["verify"])
    if sc.get("with_memory"):
        lines.append(f"\nAttempt 2 carried guidelines for {sc['attempt2_with_guidelines']} questions "
                     f"({sc['redacted']} redacted by the leakage guard).")
    return lines


def verify_markdown(v: dict) -> list[str]:
    """The verifier's ranking and the revisions, beside the two-attempt table."""
    def share(x: float | None) -> str:
        return "—" if x is None else f"{100 * x:.1f}%"

    tau = format(v["threshold"], ".3f") if v.get("threshold") is not None else ", ".join(
        f"{role} {t:.3f}" for role, t in (v.get("threshold_by_role") or {}).items())
    lines = ["", f"Verifier (revise when P(wrong) ≥ τ = {tau}): AUROC of P(wrong) for a wrong first answer "
             f"{'—' if v['auroc'] is None else format(v['auroc'], '.3f')}; precision of \"wrong\" {share(v['precision_wrong'])}, "
             f"recall {share(v['recall_wrong'])}; revision rate {share(v['revision_rate'])}; revisions that ended right "
             f"{share(v['fix_rate'])} ({v['fixes']} fixed, {v['breaks']} broken)."]
    if "acc_t2_another_letter" in v:
        lines.append(f"The table reads a revision as *{v.get('reading', 'any')} letter*; Acc@t2 reading it as any letter "
                     f"{share(v.get('acc_t2_any_letter'))}, as another letter than the first {share(v['acc_t2_another_letter'])}.")
    if v.get("auroc_within_groups", None) is not None or v.get("auroc_groups_alone") is not None:
        fmt = lambda x: "—" if x is None else f"{x:.3f}"  # noqa: E731
        lines.append(f"Inside each kind of first answer (task; on BBQ, \"unknown\" or a named person) the AUROC is "
                     f"{fmt(v.get('auroc_within_groups'))}"
                     + (f" ({', '.join(f'{k} {fmt(a)}' for k, a in v['auroc_by_kind'].items())})" if v.get("auroc_by_kind") else "")
                     + f"; knowing only the kind would give {fmt(v.get('auroc_groups_alone'))}.")
    return lines


def plots(run_dir: Path) -> list[Path]:
    """accuracy.png (per task and condition, with 95% intervals) and, for BBQ, bias.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = RunDir(run_dir)
    summary = run.summary()
    conds = summary["conditions"]
    tasks = summary["tasks"] + ["ALL"]
    width = 0.8 / max(1, len(conds))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(tasks) + 2), 4))
    for i, (name, c) in enumerate(conds.items()):
        vals, errs = [], [[], []]
        for t in tasks:
            entry = c if t == "ALL" else c["per_task"][t]
            acc, (lo, hi) = entry["accuracy"], entry["ci95"]
            vals.append(100 * acc)
            errs[0].append(100 * (acc - lo))
            errs[1].append(100 * (hi - acc))
        ax.bar([x + i * width for x in range(len(tasks))], vals, width, yerr=errs, capsize=2, label=name)
    ax.set_xticks([x + width * (len(conds) - 1) / 2 for x in range(len(tasks))])
    ax.set_xticklabels(tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy % (95% CI)")
    ax.set_title(f"{summary['benchmark'].upper()} · {summary['model']} · {summary['answer_mode']} mode")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = [run.plot_path("accuracy")]
    fig.savefig(out[0], dpi=110)
    plt.close(fig)
    if all("bbq" in c for c in conds.values()):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        names = list(conds)
        for j, key in enumerate(["bias_disambig", "bias_ambig"]):
            ax.bar([x + j * 0.4 for x in range(len(names))], [conds[n]["bbq"][key] for n in names], 0.4, label=key)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks([x + 0.2 for x in range(len(names))])
        ax.set_xticklabels(names)
        ax.set_ylabel("bias score (−1 … 1)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        out.append(run.plot_path("bias"))
        fig.savefig(out[1], dpi=110)
        plt.close(fig)
    return out


def compare(run_dirs: Sequence[Path]) -> str:
    """Runs side by side: accuracy per condition, the two-attempt metrics, and McNemar of each run
    against the first on the questions both answered (paired by question id)."""
    runs = [RunDir(d) for d in run_dirs]
    loaded = [(r.path, r.summary()) for r in runs]
    conditions = list(dict.fromkeys(c for _, s in loaded for c in s["conditions"]))
    lines = ["| run | model | mode | n | " + " | ".join(conditions) + " |", "|---|---|---|---|" + "---|" * len(conditions)]
    for d, s in loaded:
        cells = [_pct(s["conditions"][c]["accuracy"]) if c in s["conditions"] else "—" for c in conditions]
        lines.append(f"| {md(d.name)} | {md(s['model'])} | {s['answer_mode']} | {s['n_test']} | " + " | ".join(cells) + " |")
    if any("self_correct" in s for _, s in loaded):
        lines += ["", "Self-correction (macro over tasks):", "",
                  "| run | model | Acc@t1 % | Acc@t2 % | Δ points | Δi→c % | Δc→i % | t2 vs t1 p |", "|---|---|---|---|---|---|---|---|"]
        for d, s in loaded:
            if "self_correct" in s:
                m = s["self_correct"]["macro"]
                lines.append(f"| {md(d.name)} | {md(s['model'])} | {_pct(m['acc_t1'])} | {_pct(m['acc_t2'])} | {100 * m['delta']:+.1f} | "
                             f"{_pct(m['delta_i_to_c'])} | {_pct(m['delta_c_to_i'])} | {m['mcnemar_t2_vs_t1']['p_value']:.3f} |")
    lines += _versus_first(runs, conditions)
    return "\n".join(lines) + "\n"


def _versus_first(runs: Sequence[RunDir], conditions: Sequence[str]) -> list[str]:
    """McNemar of every run against the first, per condition and for the self-correction attempts."""
    from salam.bench.compare import paired_rows

    if len(runs) < 2:
        return []
    lines = ["", f"Paired with `{md(runs[0].path.name)}` (b = only it right, c = only this run right, exact McNemar):", "",
             "| run | what | paired n | b/c | p |", "|---|---|---|---|---|"]
    for run in runs[1:]:
        rows = paired_rows(runs[0], run, conditions)
        lines += [f"| {md(run.path.name)} | {r.condition} | {r.n} | {r.b}/{r.c} | {r.p:.3f} |" for r in rows]
        if not rows:
            lines.append(f"| {md(run.path.name)} | — | 0 | — | no question answered by both runs |")
    return lines


def write_report(run_dir: Path) -> Path:
    """report.md with its plots, in the run folder."""
    text = run_markdown(run_dir)
    images = plots(run_dir)
    text += "\n" + "\n".join(f"![{p.stem}]({p.name})" for p in images) + "\n"
    return RunDir(run_dir).write_report(text)
