"""``salam train``: the study assistant (il, eval-assistant) and the main model (sft, stasc, tripost, score)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer

from salam.cli.common import ANSWER_MODES, one_of, progress_reporter, similarity
from salam.defaults import RETRIEVAL_K, RETRIEVAL_THRESHOLD

app = typer.Typer(help="Fine-tune the study assistant on feedback that worked (TRL SFT + LoRA, CPU).", no_args_is_help=True)


@app.command("il")
def il(
    out: Path = typer.Option(..., "--out", help="Folder for the adapter, checkpoints and manifest."),
    transcripts: list[Path] = typer.Option([], "--transcripts", help="Gather transcripts (JSONL); repeatable."),
    teacher: list[Path] = typer.Option([], "--teacher", help="Teacher feedback files (*_feedback_gpt4.json); repeatable."),
    base: str = typer.Option("local", "--base", help="Base model: local or hf:<folder>."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use at most this many examples."),
    max_steps: int = typer.Option(-1, "--max-steps", min=-1, help="Stop after this many optimizer steps (-1: epochs decide)."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.01),
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    grad_accum: int = typer.Option(2, "--grad-accum", min=1, help="Gradient accumulation steps."),
    learning_rate: float = typer.Option(2e-4, "--learning-rate", min=1e-9, max=1.0),
    min_examples: int = typer.Option(64, "--min-examples", min=1, help="Refuse to train on fewer examples."),
    save_steps: int = typer.Option(25, "--save-steps", min=1, help="Checkpoint every this many steps (a killed run resumes there)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train a LoRA adapter for the assistant; use it as `local+lora:OUT`."""
    from salam.errors import SalamError
    from salam.train.il.train import ILConfig, train_il

    if not transcripts and not teacher:
        raise SalamError("give --transcripts and/or --teacher")
    for path in [*transcripts, *teacher]:
        if not path.is_file():
            raise SalamError(f"no such file: {path}")

    def show(step: int, total: int, loss: float) -> None:
        typer.echo(f"step {step}/{total} loss {loss:.4f}", err=True)

    config = ILConfig(out=out, transcripts=transcripts, teacher=teacher, base=base, limit=limit, max_steps=max_steps,
                      epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, learning_rate=learning_rate, min_examples=min_examples, seed=seed,
                      save_steps=save_steps)
    manifest = train_il(config, on_log=show)
    typer.echo(f"examples {manifest['counts']}")
    typer.echo(f"mean train loss {manifest['final_train_loss']:.4f}, validation loss {manifest['validation_loss']}, "
               f"{manifest['tokens_per_second']:.0f} tokens/s, peak RSS {manifest['peak_rss_mb']:.0f} MB")
    typer.echo(f"adapter: {out}  (use --assistant local+lora:{out})")


@app.command("eval-assistant")
def eval_assistant(
    assistants: list[str] = typer.Option(..., "--assistant", help="Assistant spec; repeat to compare."),
    heldout: Optional[Path] = typer.Option(
        None, "--heldout", help="validation.jsonl from `salam train il` (default: the main model's own BBQ train-split mistakes)."),
    heldout_limit: Optional[int] = typer.Option(60, "--heldout-limit", min=1),
    model: str = typer.Option("local", "--model", help="Main model answering the BBQ test questions."),
    per_category: int = typer.Option(40, "--per-category", min=1, help="BBQ test questions per category."),
    mistakes_per_category: int = typer.Option(
        40, "--mistakes-per-category", min=1, help="Without --heldout: BBQ train questions per category the main model answers."),
    train_offset: int = typer.Option(
        40, "--train-offset", min=0, help="Without --heldout: skip this many train questions per category (those a gather run used)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated BBQ categories (default: all available)."),
    k: int = typer.Option(RETRIEVAL_K, "-k", min=1),
    threshold: float = typer.Option(RETRIEVAL_THRESHOLD, "--threshold", callback=similarity),
    answer_mode: str = typer.Option("choice", "--answer-mode", callback=one_of(*ANSWER_MODES)),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="SALAM_DATA_DIR"),
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


# Options every `salam train` recipe on benchmark questions shares (sft, stasc).
OutOpt = typer.Option(..., "--out", help="Training folder (manifest, adapter or model, checkpoints).")
BenchOpt = typer.Option("bbq", "--bench", callback=one_of("bbq", "bbh"), help="Benchmark whose training split is the data.")
TasksOpt = typer.Option(None, "--tasks", help="Comma-separated tasks/categories (default: all available).")
BaseOpt = typer.Option("local", "--base", help="Base model: local or hf:<folder>.")
FullOpt = typer.Option(False, "--full", help="Full fine-tuning (embedding matrix frozen) instead of LoRA.")
EpochsOpt = typer.Option(1.0, "--epochs", min=0.01)
MaxStepsOpt = typer.Option(-1, "--max-steps", min=-1, help="Optimizer steps (per iteration) (-1: epochs decide).")
BatchOpt = typer.Option(8, "--batch-size", min=1)
LearningRateOpt = typer.Option(2e-4, "--learning-rate", min=1e-9, max=1.0, help="2e-4 suits LoRA; use ~5e-5 with --full.")
TrainSeedOpt = typer.Option(0, "--seed", min=0)
ResumeOpt = typer.Option(False, "--resume", help="Continue a killed training in --out (finished parts are kept).")
OverwriteOpt = typer.Option(False, "--overwrite", help="Delete what --out holds and start again.")
DataDirOpt = typer.Option(None, "--data-dir", envvar="SALAM_DATA_DIR")
TrainDisplayOpt = typer.Option("plain", "--display", callback=one_of("rich", "plain", "none"), help="rich, plain or none.")


def _on_log(display: str, report):  # noqa: ANN001 - report: the (stage, done, total) callback of progress_reporter
    """A loss logger for the chosen display: a step bar (rich), a line per log on stderr (plain), or nothing."""

    def log(step: int, total: int, loss: float) -> None:
        if display == "rich":
            report("train steps", step, total)
        elif display == "plain":
            typer.echo(f"step {step}/{total} loss {loss:.4f}", err=True)

    return log


def _run_recipe(train: Callable[..., dict], config: Any, display: str, **kwargs: Any) -> dict:
    """Run an iterative recipe with the chosen display: a step bar or loss lines, its messages on stderr."""
    echo = (lambda message: None) if display == "none" else (lambda message: typer.echo(message, err=True))
    with progress_reporter(display) as report:
        return train(config, on_log=_on_log(display, report), log=echo, **kwargs)


def _tasks(tasks: str | None) -> list[str]:
    return [t for t in (tasks or "").split(",") if t]


@app.command("sft")
def sft(
    out: Path = OutOpt,
    bench: str = BenchOpt,
    tasks: Optional[str] = TasksOpt,
    limit: int = typer.Option(300, "--limit", min=1, help="Training questions per task."),
    base: str = BaseOpt,
    full: bool = FullOpt,
    epochs: float = EpochsOpt,
    max_steps: int = MaxStepsOpt,
    batch_size: int = BatchOpt,
    learning_rate: float = LearningRateOpt,
    seed: int = TrainSeedOpt,
    resume: bool = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    data_dir: Optional[str] = DataDirOpt,
    display: str = TrainDisplayOpt,
) -> None:
    """Fine-tune the main model on the training split's gold answers: the baseline for every recipe."""
    from salam.train.sft import SFTTrainConfig, train_sft

    config = SFTTrainConfig(out=out, benchmark=bench, tasks=_tasks(tasks), limit=limit, base=base,
                            full=full, epochs=epochs, max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
                            seed=seed, data_dir=data_dir)
    with progress_reporter(display) as report:
        manifest = train_sft(config, resume=resume, overwrite=overwrite, on_log=_on_log(display, report))
    typer.echo(f"{manifest['examples']} examples, {manifest['steps']} steps in {manifest['train_seconds']:.0f} s "
               f"({manifest['examples_per_second']:.2f} examples/s, peak RSS {manifest['peak_rss_mb']:.0f} MB); "
               f"validation accuracy {100 * manifest['validation_accuracy']:.1f}% on {manifest['validation_questions']}")
    typer.echo(f"model spec: {manifest['spec']}")


@app.command("stasc")
def stasc(
    out: Path = OutOpt,
    bench: str = BenchOpt,
    tasks: Optional[str] = TasksOpt,
    limit: int = typer.Option(100, "--limit", min=1, help="Training questions per task."),
    iterations: int = typer.Option(2, "--iterations", min=1, help="Sample-filter-train rounds (paper: 10)."),
    initial: str = typer.Option("fixed", "--initial", callback=one_of("fixed", "evolving"), help="First answers from M0 or the previous model."),
    finetune: str = typer.Option("fixed", "--finetune", callback=one_of("fixed", "evolving"), help="Train from M0 or continue the previous model."),
    filter_: str = typer.Option("improving", "--filter", callback=one_of("improving", "non-decreasing"), help="Keep wrong→right, or also right→right."),
    n_init: int = typer.Option(5, "--n-init", min=1, help="First answers sampled per question."),
    n_corr: int = typer.Option(5, "--n-corr", min=1, help="Corrections sampled per first answer."),
    temperature: float = typer.Option(0.6, "--temperature", min=0.01, max=5.0),
    memory: Optional[str] = typer.Option(None, "--memory", help="A memory gathered on the training split: correction prompts carry its guidelines."),
    namespace: str = typer.Option("default", "--namespace", help="Namespace of --memory."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from this trained spec (e.g. the SFT model, local+lora:DIR) instead of the base."),
    base: str = BaseOpt,
    full: bool = FullOpt,
    epochs: float = EpochsOpt,
    max_steps: int = MaxStepsOpt,
    batch_size: int = BatchOpt,
    learning_rate: float = LearningRateOpt,
    seed: int = TrainSeedOpt,
    resume: bool = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    data_dir: Optional[str] = DataDirOpt,
    display: str = TrainDisplayOpt,
) -> None:
    """STaSC: sample first answers and corrections, keep those that fix (or keep) the answer, fine-tune, repeat."""
    from salam.train.stasc import StascConfig, train_stasc

    config = StascConfig(out=out, benchmark=bench, tasks=_tasks(tasks), limit=limit, base=base,
                         full=full, epochs=epochs, max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
                         seed=seed, data_dir=data_dir, iterations=iterations, initial=initial, finetune=finetune,  # type: ignore[arg-type]
                         filter=filter_, n_init=n_init, n_corr=n_corr, temperature=temperature, memory=memory,  # type: ignore[arg-type]
                         namespace=namespace, init=init)
    summary = _run_recipe(train_stasc, config, display, resume=resume, overwrite=overwrite)
    for it in summary["iterations"]:
        typer.echo(f"iteration {it['iteration']}: samples {it['samples_by_outcome']}, kept {it['kept']} "
                   f"({it['kept_by_outcome']}), {it['steps']} steps in {it['train_seconds']:.0f} s, "
                   f"validation Acc@t1 {100 * it['validation_accuracy_t1']:.1f}%")
    typer.echo(f"model spec: {summary['spec']}")


@app.command("tripost")
def tripost(
    out: Path = OutOpt,
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated tasks (default: the four BBH tasks with a script)."),
    limit: int = typer.Option(40, "--limit", min=1, help="Training questions per task (generated for script tasks, else the train split)."),
    iterations: int = typer.Option(2, "--iterations", min=1, help="Rollout-edit-train rounds after the supervised start (paper: 3)."),
    max_rounds: int = typer.Option(5, "--max-rounds", min=1, help="Editing rounds per trajectory."),
    improve_ratio: float = typer.Option(1.5, "--improve-ratio", min=0.01, help="Improvement : non-improvement, at most (as many gold as non-improvement)."),
    feedback_weight: float = typer.Option(1.5, "--feedback-weight", min=0.0, help="Loss weight of feedback and update tokens."),
    feedback: str = typer.Option("script", "--feedback", callback=one_of("script", "assistant"), help="Feedback module: script (exact step checkers) or assistant (a chat model writes feedback and update)."),
    assistant: str = typer.Option("local", "--assistant", help="Model spec of the assistant feedback module."),
    bench: str = typer.Option("bbh", "--bench", callback=one_of("bbq", "bbh"), help="Where tasks without a generator take their training questions from."),
    data_dir: Optional[str] = DataDirOpt,
    temperature: float = typer.Option(1.0, "--temperature", min=0.01, max=5.0, help="Rollout sampling temperature."),
    full: bool = FullOpt,
    epochs: float = EpochsOpt,
    max_steps: int = MaxStepsOpt,
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    learning_rate: float = LearningRateOpt,
    seed: int = TrainSeedOpt,
    resume: bool = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    display: str = TrainDisplayOpt,
) -> None:
    """TriPosT: the main model learns to write feedback on its own attempts and to use it."""
    from salam.train.tripost.checkers.scripts import SCRIPTS
    from salam.train.tripost.train import TriPostConfig, train_tripost

    config = TriPostConfig(out=out, tasks=_tasks(tasks) or list(SCRIPTS), limit=limit,
                           iterations=iterations, max_rounds=max_rounds, improve_ratio=improve_ratio,
                           feedback_weight=feedback_weight, temperature=temperature, full=full, epochs=epochs,
                           max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                           feedback=feedback, assistant=assistant, benchmark=bench, data_dir=data_dir)
    summary = _run_recipe(train_tripost, config, display, resume=resume, overwrite=overwrite)
    start = summary["supervised_start"]
    typer.echo(f"supervised start: {start['examples']} gold rationales, {start['steps']} steps in {start['train_seconds']:.0f} s")
    for it in summary["iterations"]:
        typer.echo(f"iteration {it['iteration']}: rollouts {it['rollouts_by_outcome']}, examples {it['examples_by_kind']}, "
                   f"{it['steps']} steps in {it['train_seconds']:.0f} s")
    typer.echo(f"model spec: {summary['spec']}")


@app.command("score")
def score(
    out: Path = OutOpt,
    bench: str = BenchOpt,
    tasks: Optional[str] = TasksOpt,
    limit: int = typer.Option(250, "--limit", min=1, help="Training questions per task."),
    stage1_steps: int = typer.Option(50, "--stage1-steps", min=0, help="Optimizer steps of stage I."),
    stage2_steps: int = typer.Option(100, "--stage2-steps", min=0, help="Optimizer steps of stage II."),
    beta1: float = typer.Option(0.01, "--beta1", min=0.0, help="KL weight of stage II (and of attempt 2 in stage I)."),
    beta2: float = typer.Option(0.1, "--beta2", min=0.0, help="KL weight of attempt 1 in stage I."),
    alpha: float = typer.Option(10.0, "--alpha", min=0.0, help="Shaped bonus on attempt 2 in stage II (0: no shaping)."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from and regularise towards this spec (e.g. the SFT model)."),
    no_stage1: bool = typer.Option(False, "--no-stage1", help="Ablation: skip stage I."),
    single_turn: bool = typer.Option(False, "--single-turn", help="Ablation: train attempt 1 only."),
    eval_every: int = typer.Option(25, "--eval-every", min=1, help="Validation Acc@t1/Acc@t2 every this many steps."),
    max_kl: float = typer.Option(2.0, "--max-kl", min=0.0, help="Stop a stage when the mean KL exceeds this."),
    mode: str = typer.Option("choice", "--mode", help="choice (exact over the option letters) or generate "
                             "(sampled one-line answers, leave-one-out baseline)."),
    generations: int = typer.Option(4, "--generations", min=1, help="Generate mode: sampled trajectories per question."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.0, help="Generate mode: sampling temperature."),
    memory: Optional[str] = typer.Option(None, "--memory", help="A memory gathered on the training split: attempt-2 prompts carry its guidelines."),
    namespace: str = typer.Option("default", "--namespace", help="Namespace of --memory."),
    base: str = BaseOpt,
    full: bool = FullOpt,
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    learning_rate: float = typer.Option(5e-5, "--learning-rate", min=1e-9, max=1.0),
    seed: int = TrainSeedOpt,
    resume: bool = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    data_dir: Optional[str] = DataDirOpt,
    display: str = TrainDisplayOpt,
) -> None:
    """SCoRe: two-stage, KL-regularised RL of both attempts (choice mode: exact; generate mode: RLOO)."""
    from salam.train.score.train import ScoreConfig, train_score

    config = ScoreConfig(out=out, benchmark=bench, tasks=_tasks(tasks), limit=limit, base=base,
                         full=full, batch_size=batch_size, learning_rate=learning_rate, seed=seed, data_dir=data_dir,
                         stage1_steps=stage1_steps, stage2_steps=stage2_steps, beta1=beta1, beta2=beta2, alpha=alpha,
                         init=init, no_stage1=no_stage1, single_turn=single_turn, eval_every=eval_every, max_kl=max_kl,
                         mode=mode, generations=generations, temperature=temperature, memory=memory, namespace=namespace)
    summary = _run_recipe(train_score, config, display, resume=resume, overwrite=overwrite)
    for stage in summary["stages"]:
        last = stage["validation"][-1]
        typer.echo(f"{stage['stage']}: {stage['steps']} steps in {stage['train_seconds']:.0f} s, validation "
                   f"Acc@t1 {100 * last['acc_t1']:.1f}% Acc@t2 {100 * last['acc_t2']:.1f}%"
                   + (f" (stopped: {stage['stopped']})" if stage["stopped"] else ""))
    typer.echo(f"model spec: {summary['spec']}")
