"""``salam train``: the study assistant (il, eval-assistant) and the main model (sft, stasc, tripost, score).

Each recipe's options come from its config dataclass (:mod:`salam.cli.config_options`); what is written
here is only the run options every recipe shares and the lines each prints when it is done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer

from salam.cli.common import ANSWER_MODES, DataDirOpt, ModelOpt, one_of, progress_reporter, similarity
from salam.cli.config_options import add_config_command, run_option
from salam.defaults import RETRIEVAL_K, RETRIEVAL_THRESHOLD
from salam.train.il.train import ILConfig
from salam.train.score.train import ScoreConfig
from salam.train.sft import SFTTrainConfig
from salam.train.stasc import StascConfig
from salam.train.tripost.train import TriPostConfig
from salam.train.verify import VerifyConfig, describe_roles, format_auroc

app = typer.Typer(help="Train the study assistant (il) or the main model (sft, stasc, tripost, score, verify) with LoRA on a CPU.",
                  no_args_is_help=True)

RUN_OPTIONS = [
    run_option("resume", False, "--resume", help="Continue a killed training in --out (finished parts are kept)."),
    run_option("overwrite", False, "--overwrite", help="Delete what --out holds and start again."),
    run_option("display", "plain", "--display", callback=one_of("rich", "plain", "none"), help="rich, plain or none."),
]
"""Options of a run rather than of the method: defined once, shared by every recipe."""
RENAMES = {"benchmark": "bench"}
"""Config fields whose option has a shorter name."""


def _on_log(display: str, report):  # noqa: ANN001 - report: the (stage, done, total) callback of progress_reporter
    """A loss logger for the chosen display: a step bar (rich), a line per log on stderr (plain), or nothing."""

    def log(step: int, total: int, loss: float) -> None:
        if display == "rich":
            report("train steps", step, total)
        elif display == "plain":
            typer.echo(f"step {step}/{total} loss {loss:.4f}", err=True)

    return log


def _run_recipe(train: Callable[..., dict], config: Any, display: str, **kwargs: Any) -> dict:
    """Run a recipe with the chosen display: a step bar or loss lines, its messages on stderr."""
    echo = (lambda message: None) if display == "none" else (lambda message: typer.echo(message, err=True))
    with progress_reporter(display) as report:
        return train(config, on_log=_on_log(display, report), log=echo, **kwargs)


def recipe(name: str, config_cls: type, help: str) -> Callable[[Callable[[Any, bool, bool, str], None]], Callable]:
    """Register ``salam train NAME`` with options derived from ``config_cls`` and the shared run options."""

    def register(run: Callable[[Any, bool, bool, str], None]) -> Callable:
        add_config_command(app, name, config_cls, _main_process_speaks(run), help=help, renames=RENAMES, extra=RUN_OPTIONS)
        return run

    return register


def _main_process_speaks(run: Callable[[Any, bool, bool, str], None]) -> Callable[[Any, bool, bool, str], None]:
    """Under ``accelerate launch`` every process runs the command; only the main one prints progress and results
    (an error still prints from whichever process meets it)."""
    import os

    def each_process(config: Any, resume: bool, overwrite: bool, display: str) -> None:
        if int(os.environ.get("RANK", "0") or 0) == 0:
            return run(config, resume, overwrite, display)
        import contextlib

        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
            return run(config, resume, overwrite, "none")

    return each_process


@recipe("il", ILConfig, "Train a LoRA adapter for the study assistant on successful exchanges and teacher feedback; "
        "use it as `local+lora:OUT`.")
def il(config: ILConfig, resume: bool, overwrite: bool, display: str) -> None:
    from salam.train.il.train import train_il

    manifest = _run_recipe(train_il, config, display, resume=resume, overwrite=overwrite)
    typer.echo(f"examples {manifest['counts']}")
    typer.echo(f"mean train loss {manifest['final_train_loss']:.4f}, validation loss {manifest['validation_loss']}, "
               f"{manifest['tokens_per_second']:.0f} tokens/s, peak RSS {manifest['peak_rss_mb']:.0f} MB")
    typer.echo(f"adapter: {config.out}  (use --assistant local+lora:{config.out})")


@recipe("sft", SFTTrainConfig, "Fine-tune the main model on the training split's gold answers: the baseline for every recipe.")
def sft(config: SFTTrainConfig, resume: bool, overwrite: bool, display: str) -> None:
    from salam.train.sft import train_sft

    manifest = _run_recipe(train_sft, config, display, resume=resume, overwrite=overwrite)
    typer.echo(f"{manifest['examples']} examples, {manifest['steps']} steps in {manifest['train_seconds']:.0f} s "
               f"({manifest['examples_per_second']:.2f} examples/s, peak RSS {manifest['peak_rss_mb']:.0f} MB); "
               f"validation accuracy {100 * manifest['validation_accuracy']:.1f}% on {manifest['validation_questions']}")
    typer.echo(f"model spec: {manifest['spec']}")


@recipe("stasc", StascConfig, "STaSC: sample first answers and corrections, keep those that fix (or keep) the answer, fine-tune, repeat.")
def stasc(config: StascConfig, resume: bool, overwrite: bool, display: str) -> None:
    from salam.train.stasc import train_stasc

    summary = _run_recipe(train_stasc, config, display, resume=resume, overwrite=overwrite)
    for it in summary["iterations"]:
        typer.echo(f"iteration {it['iteration']}: samples {it['samples_by_outcome']}, kept {it['kept']} "
                   f"({it['kept_by_outcome']}), {it['steps']} steps in {it['train_seconds']:.0f} s, "
                   f"validation Acc@t1 {100 * it['validation_accuracy_t1']:.1f}%")
    typer.echo(f"model spec: {summary['spec']}")


@recipe("tripost", TriPostConfig, "TriPosT: the main model learns to write feedback on its own attempts and to use it.")
def tripost(config: TriPostConfig, resume: bool, overwrite: bool, display: str) -> None:
    from salam.train.tripost.train import train_tripost

    summary = _run_recipe(train_tripost, config, display, resume=resume, overwrite=overwrite)
    start = summary["supervised_start"]
    typer.echo(f"supervised start: {start['examples']} gold rationales, {start['steps']} steps in {start['train_seconds']:.0f} s")
    for it in summary["iterations"]:
        typer.echo(f"iteration {it['iteration']}: rollouts {it['rollouts_by_outcome']}, examples {it['examples_by_kind']}, "
                   f"{it['steps']} steps in {it['train_seconds']:.0f} s")
    typer.echo(f"model spec: {summary['spec']}")


@recipe("verify", VerifyConfig, "Verify, then revise: one LoRA learns to answer, to judge its own answers and to revise "
        "those it judges wrong; τ is chosen on held-out training-split questions.")
def verify(config: VerifyConfig, resume: bool, overwrite: bool, display: str) -> None:
    from salam.train.verify import train_verify

    m = _run_recipe(train_verify, config, display, resume=resume, overwrite=overwrite)
    held = m["heldout"]
    typer.echo(f"{m['variant']}: first answers {m.get('first_answers', 'exact')}, examples {m['examples_by_kind']}, {m['steps']} steps in "
               f"{m['train_seconds']:.0f} s (peak RSS {m['peak_rss_mb']:.0f} MB); validation Acc@t1 {100 * m['validation_accuracy']:.1f}%")
    typer.echo(f"τ = {m['verify_threshold']:.4f}, {m['verify_reading']} letter, on {held['heldout_n']} held-out questions: "
               f"Acc@t1 {100 * held['heldout_acc_t1']:.1f}% "
               f"-> Acc@t2 {100 * held['heldout_acc_t2']:.1f}%{describe_roles(m)}, verifier AUROC {format_auroc(held.get('auroc'))}")
    typer.echo(f"model spec: {m['spec']}")


@app.command("rechoose")
def rechoose_command(
    out: Path = typer.Argument(..., metavar="DIR", help="A `salam train verify` folder."),
    heldout: Optional[int] = typer.Option(
        None, "--heldout", help="Held-out questions per task (default: as trained). More separate the readings better; "
        "they come after the trained and validation ones, so the test split is never read."),
) -> None:
    """Choose a verify model's τ and revision reading again on its held-out training-split questions."""
    from salam._util.quiet import quiet_libraries
    from salam.train.verify import rechoose

    quiet_libraries()
    m = rechoose(out, log=lambda message: typer.echo(message, err=True), heldout=heldout)
    held, before = m["heldout"], m["heldout_previous"]
    typer.echo(f"τ = {m['verify_threshold']:.4f}, {m['verify_reading']} letter (was {before['verify_threshold']:.4f}, "
               f"{before['verify_reading']} letter) on {held['heldout_n']} held-out questions: Acc@t1 "
               f"{100 * held['heldout_acc_t1']:.1f}% -> Acc@t2 {100 * held['heldout_acc_t2']:.1f}%{describe_roles(m)}, verifier AUROC "
               f"{format_auroc(held.get('auroc'))}")


@recipe("score", ScoreConfig, "SCoRe: two-stage, KL-regularised RL of both attempts (choice mode: exact; generate mode: RLOO).")
def score(config: ScoreConfig, resume: bool, overwrite: bool, display: str) -> None:
    from salam.train.score.train import train_score

    summary = _run_recipe(train_score, config, display, resume=resume, overwrite=overwrite)
    for stage in summary["stages"]:
        last = stage["validation"][-1]
        typer.echo(f"{stage['stage']}: {stage['steps']} steps in {stage['train_seconds']:.0f} s, validation "
                   f"Acc@t1 {100 * last['acc_t1']:.1f}% Acc@t2 {100 * last['acc_t2']:.1f}%"
                   + (f" (stopped: {stage['stopped']})" if stage["stopped"] else ""))
    typer.echo(f"model spec: {summary['spec']}")


@app.command("eval-assistant")
def eval_assistant(
    assistants: list[str] = typer.Option(..., "--assistant", help="Assistant spec; repeat to compare."),
    heldout: Optional[Path] = typer.Option(
        None, "--heldout", help="validation.jsonl from `salam train il` (default: the main model's own BBQ train-split mistakes)."),
    heldout_limit: Optional[int] = typer.Option(60, "--heldout-limit", min=1),
    model: str = ModelOpt,
    per_category: int = typer.Option(40, "--per-category", min=1, help="BBQ test questions per category."),
    mistakes_per_category: int = typer.Option(
        40, "--mistakes-per-category", min=1, help="Without --heldout: BBQ train questions per category the main model answers."),
    train_offset: int = typer.Option(
        40, "--train-offset", min=0, help="Without --heldout: skip this many train questions per category (those a gather run used)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated BBQ categories (default: all available)."),
    k: int = typer.Option(RETRIEVAL_K, "-k", min=1),
    threshold: float = typer.Option(RETRIEVAL_THRESHOLD, "--threshold", callback=similarity),
    answer_mode: str = typer.Option("choice", "--answer-mode", callback=one_of(*ANSWER_MODES)),
    data_dir: Optional[str] = DataDirOpt,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the Markdown report here."),
) -> None:
    """Compare assistants: parse-valid and leak rates, guideline length, downstream BBQ accuracy."""
    import json
    import sys

    from salam._util.quiet import quiet_libraries
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark
    from salam.defaults import ANSWER_MAX_NEW_TOKENS
    from salam.models import resolve_chat_model
    from salam.train.il.evaluate import (
        assistants_markdown,
        evaluate_assistants,
        load_heldout,
        main_model_mistakes,
    )

    quiet_libraries()
    data, _ = load_benchmark("bbq", tasks.split(",") if tasks else None, data_dir)
    test = side(split_benchmark(data, seed=0, limit=per_category), "test")
    main = resolve_chat_model(model, max_new_tokens=ANSWER_MAX_NEW_TOKENS)
    if heldout is not None:
        pairs = load_heldout(heldout, heldout_limit)
    else:
        # Same seed-0 split as `salam bench bbq`: the first --train-offset train questions are
        # the ones a default gather run learnt from (and an `own` adapter may have trained on).
        fresh = side(split_benchmark(data, seed=0, train_limit=mistakes_per_category, train_offset=train_offset), "train")
        pairs = main_model_mistakes(fresh, main, answer_mode)
        typer.echo(f"held-out: {len(pairs)} mistakes of the main model on {len(fresh)} BBQ train questions", err=True)
    results = evaluate_assistants(assistants, pairs, test, main, k=k, threshold=threshold, answer_mode=answer_mode,
                                  log=lambda message: typer.echo(message, err=True))
    text = assistants_markdown(results, "salam " + " ".join(sys.argv[1:]))
    if output:
        output.write_text(text)
        output.with_suffix(".json").write_text(json.dumps(results, indent=2))
    typer.echo(text)
