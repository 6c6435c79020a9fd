"""``salam bench bbq|bbh`` runs the SALAM benchmark; ``salam bench report`` renders and compares runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import typer

from salam.cli.common import (
    ANSWER_MODES,
    BaseUrlOpt,
    BatchSizeOpt,
    DataDirOpt,
    DisplayOpt,
    EngineOpt,
    LogprobsOpt,
    MaxConcurrencyOpt,
    MaxRetriesOpt,
    ModelOpt,
    TimeoutOpt,
    one_of,
    progress_reporter,
    rank_option,
    similarity,
)

app = typer.Typer(help="Run BBQ/BBH benchmarks under SALAM conditions and report them.", no_args_is_help=True)

_DEFAULT_CONDITIONS = "none,mistake,feedback"
SELF_CORRECT_MODES = ("two-attempt", "tripost", "verify")


def _split_list(value: Optional[str]) -> list[str]:
    return [item for item in (value or "").split(",") if item]


def _run(config: Any, log_dir: Optional[Path], resume: bool, display: str) -> None:
    from salam.bench.report import write_report
    from salam.bench.runner import run_benchmark

    run_dir = log_dir or Path("runs") / f"{config.benchmark}-{time.strftime('%Y%m%d-%H%M%S')}"
    with progress_reporter(display) as progress:
        summary = run_benchmark(config, run_dir, resume, progress)
    report = write_report(run_dir)
    if display != "none":
        for name, c in summary["conditions"].items():
            typer.echo(f"{name:>14}: {100 * c['accuracy']:.1f}% of {c['n']}"
                       + (f"  (McNemar vs none p={c['vs_none']['p_value']:.3f})" if "vs_none" in c else ""))
        if "self_correct" in summary:
            m = summary["self_correct"]["macro"]
            typer.echo(f"  self-correct: Acc@t1 {100 * m['acc_t1']:.1f}% → Acc@t2 {100 * m['acc_t2']:.1f}% (macro), "
                       f"Δi→c {100 * m['delta_i_to_c']:.1f}%, Δc→i {100 * m['delta_c_to_i']:.1f}%, "
                       f"McNemar p={m['mcnemar_t2_vs_t1']['p_value']:.3f}")
    typer.echo(f"report: {report}")


def _make(benchmark: str, default_limit: int, default_train: int) -> None:
    @app.command(benchmark, help=f"Run {benchmark.upper()}: gather on the train split, examine the test split per condition.")
    def command(
        model: str = ModelOpt,
        assistant: Optional[str] = typer.Option(None, "--assistant", help="Study assistant spec (default: the main model)."),
        tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated tasks/categories" + (" or subsets paper,free,all" if benchmark == "bbh" else "") + " (default: all available" + (" of the paper's 16" if benchmark == "bbh" else "") + ")."),
        limit: int = typer.Option(default_limit, "--limit", min=0, help="Test questions per task (0: all)."),
        train_limit: int = typer.Option(default_train, "--train-limit", min=0, help="Train questions per task to gather on (0: all)."),
        conditions: str = typer.Option(_DEFAULT_CONDITIONS, "--conditions", help="none,correct,mistake,feedback,feedback_only,agent"),
        k: Optional[int] = typer.Option(None, "-k", "--k", min=1, help="Memories per question (default: the paper's)."),
        threshold: Optional[float] = typer.Option(None, "--threshold", callback=similarity, help="Least similarity (default: the paper's)."),
        rank: str = rank_option(),
        rounds: int = typer.Option(1, "--rounds", min=0, help="Retries with feedback during gather."),
        answer_mode: str = typer.Option("choice", "--answer-mode", callback=one_of(*ANSWER_MODES), help="choice (score letters), generate (one line) or cot (reason in steps after BBH's chain-of-thought prompt; free-answer tasks)."),
        shots: int = typer.Option(3, "--shots", min=0, max=3, help="Chain-of-thought exemplars in cot mode (BBH: 3; 0 for a model trained zero-shot)."),
        batch_size: int = BatchSizeOpt,
        log_dir: Optional[Path] = typer.Option(None, "--log-dir", help="Run directory (default: runs/<benchmark>-<time>)."),
        resume: bool = typer.Option(False, "--resume", help="Continue a killed run in --log-dir."),
        seed: int = typer.Option(0, "--seed", min=0),
        split: str = typer.Option("seeded", "--split", callback=one_of("seeded", "file-order"), help="seeded (stratified, 80/20) or file-order (the paper's)."),
        memory: Optional[str] = typer.Option(None, "--memory", help="Use this memory folder (the run gets its own namespace)."),
        namespace: Optional[str] = typer.Option(None, "--namespace", help="Memory namespace to gather into and read from (e.g. 'default' of an imported memory)."),
        no_gather: bool = typer.Option(False, "--no-gather", help="Skip gathering: examine with the memory as it is."),
        embedder: Optional[str] = typer.Option(None, "--embedder", help="Embedder for a new memory (default: bundled all-MiniLM-L6-v2)."),
        data_dir: Optional[str] = DataDirOpt,
        base_url: Optional[str] = BaseUrlOpt,
        self_correct: Optional[str] = typer.Option(None, "--self-correct", metavar="MODE", callback=one_of(*SELF_CORRECT_MODES), help="Also run a self-correction protocol on the test split: two-attempt (SCoRe's: attempt, then a review of it), tripost (attempt, own feedback, update; cot mode) or verify (attempt, a verification turn, a revision only when P(wrong) reaches --verify-threshold)."),
        verify_threshold: Optional[float] = typer.Option(None, "--verify-threshold", help="verify mode: revise when the verifier's P(wrong) reaches this (default: the threshold a `salam train verify` model chose on held-out questions, else 0.5)."),
        verify_reading: Optional[str] = typer.Option(None, "--verify-reading", callback=one_of("any", "another"), help="verify mode, choice answers: a revision's final letter is its best (any) or its best other than the first answer's (another); default: the reading a `salam train verify` model chose with its threshold, else any."),
        self_correct_memory: bool = typer.Option(False, "--self-correct-memory", help="Attempt 2 carries the memory's guidelines (implies --self-correct two-attempt)."),
        max_rounds: int = typer.Option(5, "--max-rounds", min=1, help="Updates at most in tripost mode."),
        wrong_threshold: Optional[float] = typer.Option(None, "--wrong-threshold", help="tripost mode: the model's feedback names a wrong step when its P(wrong) reaches this (choose it on held-out questions: benchmarks/tripost_threshold.py); default: its greedy feedback."),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1, help="Tokens a chain-of-thought turn may write (cot answers, tripost attempts and updates; default 512; local models)."),
        engine: str = EngineOpt,
        logprobs: str = LogprobsOpt,
        max_concurrency: int = MaxConcurrencyOpt,
        max_retries: int = MaxRetriesOpt,
        timeout: float = TimeoutOpt,
        display: str = DisplayOpt,
    ) -> None:
        from salam.bench.runner import BenchConfig
        from salam.errors import SalamError

        if split not in ("seeded", "file-order"):
            raise SalamError("--split must be seeded or file-order")
        config = BenchConfig(
            benchmark=benchmark, model=model, assistant=assistant, tasks=_split_list(tasks), limit=limit or None,
            train_limit=train_limit or None, conditions=_split_list(conditions), k=k, threshold=threshold, rank=rank, rounds=rounds,
            answer_mode=answer_mode, batch_size=batch_size, seed=seed, split=split, memory=memory, namespace=namespace,
            gather=not no_gather, embedder=embedder, data_dir=data_dir, base_url=base_url, self_correct=self_correct is not None,
            self_correct_memory=self_correct_memory, shots=shots, self_correct_mode=self_correct or "two-attempt", max_rounds=max_rounds,
            max_new_tokens=max_new_tokens, wrong_threshold=wrong_threshold, verify_threshold=verify_threshold,
            verify_reading=verify_reading,
            engine=engine, logprobs=logprobs, max_concurrency=max_concurrency, max_retries=max_retries, timeout=timeout,
        )
        _run(config, log_dir, resume, display)


_make("bbq", 40, 12)  # the README main job: ~5 min on 2 cores (317 s measured), most of it gathering
_make("bbh", 20, 12)


@app.command()
def report(run_dirs: list[Path] = typer.Argument(..., help="One run directory, or several to compare.")) -> None:
    """Write report.md and PNG plots for a run; with several runs, print a comparison table."""
    from salam.bench.report import compare, write_report
    from salam.errors import MALFORMED, SalamError, describe_malformed

    try:
        if len(run_dirs) == 1:
            path = write_report(run_dirs[0])
            typer.echo(path.read_text())
            typer.echo(f"report: {path}")
        else:
            typer.echo(compare(run_dirs))
    except SalamError:
        raise
    except MALFORMED as exc:
        names = ", ".join(str(d) for d in run_dirs)
        raise SalamError(f"cannot report {names}: {describe_malformed(exc)}") from None
