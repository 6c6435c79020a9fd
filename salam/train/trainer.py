"""The trainer glue every method shares: training arguments, the loss log, timing and peak memory,
resuming from the newest checkpoint, and one trainer run over rows (:func:`fit`).

A method builds its trainer (a ``transformers.Trainer`` subclass with its own loss, or TRL's
``SFTTrainer``) and hands it to :func:`run_trainer`, which resumes, times and reports it the same way
for all of them. transformers, datasets and TRL are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from salam.train.base import OnLog, TrainConfig

if TYPE_CHECKING:
    from salam.train.folder import TrainDir
    from salam.train.letters import LetterExample


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024




def cpu_trainer_args(config: TrainConfig, quiet: bool = False, output_dir: Path | None = None,
                     max_steps: int | None = None) -> dict[str, Any]:
    """Keyword arguments for TRL/transformers training args that every method shares: the config's precision
    (:mod:`salam.train.precision`), and the CPU unless an accelerator is there (then ``accelerate launch`` spreads
    the same command over its devices). ``output_dir`` (default ``OUT/checkpoints``) and ``max_steps`` (default
    the config's) serve a stage's folder."""
    import torch

    from salam.train.precision import resolve_dtype, trainer_precision

    return dict(
        output_dir=str(output_dir or Path(config.out) / "checkpoints"),
        max_steps=config.max_steps if max_steps is None else max_steps, num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate, lr_scheduler_type="cosine",
        warmup_steps=2, logging_steps=5, save_steps=config.save_steps, save_total_limit=2, eval_strategy="no",
        use_cpu=not torch.cuda.is_available(), **trainer_precision(resolve_dtype(config.dtype)),
        gradient_checkpointing=config.gradient_checkpointing, report_to=[], seed=config.seed,
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        dataloader_num_workers=0, disable_tqdm=quiet, ddp_find_unused_parameters=False,
    )


def loss_recorder(losses: list[dict[str, float]], on_log: OnLog | None = None) -> Any:
    """A trainer callback appending ``{"step", "loss"}`` to ``losses`` and forwarding it to ``on_log``."""
    from transformers import TrainerCallback

    class LossRecorder(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kw):  # noqa: ANN001
            if logs and "loss" in logs:
                losses.append({"step": state.global_step, "loss": float(logs["loss"])})
                if on_log:
                    on_log(state.global_step, state.max_steps, float(logs["loss"]))

    return LossRecorder()


def quiet_trainer(trainer: Any) -> None:
    """Drop transformers' printer of log dicts: salam reports progress through ``on_log``."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


TIME_FILE = "salam_time.json"
"""Training seconds up to a checkpoint, written into it once it is saved (a resumed run counts the whole time)."""


def is_complete_checkpoint(folder: Path) -> bool:
    """A checkpoint whose trainer state was written: transformers writes it after the weights, optimizer,
    scheduler and RNG state, so a kill during a save leaves a folder without it (or with it half-written)."""
    try:
        json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def last_checkpoint(out: Path) -> Path | None:
    """The newest *complete* ``checkpoints/checkpoint-N`` under ``out``: where a killed run resumes. Newer
    incomplete ones (a kill while saving) are removed, so the trainer writes them afresh."""
    folder = Path(out) / "checkpoints"
    numbered = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()] if folder.is_dir() else []
    for checkpoint in sorted(numbered, key=lambda p: int(p.name.split("-")[-1]), reverse=True):
        if is_complete_checkpoint(checkpoint):
            return checkpoint
        shutil.rmtree(checkpoint, ignore_errors=True)
    return None


def _seconds_before(checkpoint: Path | None) -> float:
    """Training seconds a resumed run had spent up to its checkpoint (0 for a fresh run or an older checkpoint)."""
    if checkpoint is None:
        return 0.0
    try:
        return float(json.loads((checkpoint / TIME_FILE).read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


@dataclass
class TrainRun:
    """Timing and the loss log of one trainer run, turned into manifest fields."""

    losses: list[dict[str, float]] = field(default_factory=list)
    began: float = field(default_factory=time.perf_counter)
    resumed_from: Path | None = None
    before: float = 0.0
    """Seconds trained before the checkpoint this run resumed from."""

    def start(self) -> None:
        """Start the clock (call right before ``trainer.train``: tokenising is not training)."""
        self.before = _seconds_before(self.resumed_from)
        self.began = time.perf_counter()

    def seconds(self) -> float:
        """Training seconds so far, those before a resume included."""
        return self.before + time.perf_counter() - self.began

    def timer(self) -> Any:
        """A trainer callback writing the seconds so far into each checkpoint once it is saved."""
        from transformers import TrainerCallback

        run = self

        class CheckpointTimer(TrainerCallback):
            def on_save(self, args, state, _control, **_kw):  # noqa: ANN001
                checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if checkpoint.is_dir() and state.is_world_process_zero:
                    (checkpoint / TIME_FILE).write_text(json.dumps({"seconds": run.seconds()}))

        return CheckpointTimer()

    def fields(self, result: Any, tokens_per_epoch: int, epochs: float) -> dict[str, Any]:
        seconds = self.seconds()
        epochs_done = float(result.metrics.get("epoch", epochs))
        return {
            "final_train_loss": float(result.training_loss),  # TRL: mean over the run; the last step is in loss_log
            "loss_log": self.losses, "steps": int(result.global_step), "train_seconds": seconds,
            "resumed_from": str(self.resumed_from) if self.resumed_from else None,
            "train_tokens_per_epoch": tokens_per_epoch,
            "tokens_per_second": tokens_per_epoch * epochs_done / seconds if seconds else None,
            "peak_rss_mb": peak_rss_mb(),
        }


def run_trainer(trainer: Any, run: TrainRun, tokens: int, epochs: float) -> tuple[Any, dict[str, Any]]:
    """Train (resuming ``run.resumed_from``) with transformers' log printer removed; (result, manifest fields)."""
    quiet_trainer(trainer)
    trainer.add_callback(run.timer())
    run.start()
    result = trainer.train(resume_from_checkpoint=str(run.resumed_from) if run.resumed_from else None)
    # The whole loss log: a resumed trainer's state carries the steps logged before the kill.
    history = [{"step": int(h["step"]), "loss": float(h["loss"])} for h in trainer.state.log_history if "loss" in h and "step" in h]
    if len(history) >= len(run.losses):
        run.losses[:] = history
    return result, {**run.fields(result, tokens, epochs), "training_setup": training_setup(trainer)}


def training_setup(trainer: Any) -> dict[str, Any]:
    """What the manifest says about how the weights were trained: number format, memory savers, LoRA layers, processes."""
    args, model = getattr(trainer, "args", None), getattr(trainer, "model", None)
    if args is None or model is None:
        return {}
    targets = None
    peft_config = getattr(model, "peft_config", None)
    if isinstance(peft_config, dict) and peft_config:
        targets = sorted(next(iter(peft_config.values())).target_modules or [])
    return {"weights_dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
            "mixed_precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "no",
            "gradient_checkpointing": bool(args.gradient_checkpointing), "lora_targets": targets,
            "processes": int(args.world_size), "device": str(args.device)}


def fit(config: TrainConfig, model: Any, rows: list[dict[str, Any]], collator: Any, trainer_class: type, folder: "TrainDir",
        on_log: OnLog | None, tokens: int) -> dict[str, Any]:
    """One trainer run over ``rows`` (resuming the folder's last checkpoint); manifest fields of the run."""
    from datasets import Dataset
    from transformers import TrainingArguments

    args = TrainingArguments(**cpu_trainer_args(config, quiet=on_log is not None, output_dir=folder.checkpoints),
                             remove_unused_columns=False)
    run = TrainRun(resumed_from=last_checkpoint(folder.path))
    trainer = trainer_class(model=model, args=args, train_dataset=Dataset.from_list(rows), data_collator=collator,
                            callbacks=[loss_recorder(run.losses, on_log)])
    result, fields = run_trainer(trainer, run, tokens, config.epochs)
    epochs_done = float(result.metrics.get("epoch", config.epochs))
    return {**fields, "examples": len(rows),
            "examples_per_second": len(rows) * epochs_done / max(1e-9, fields["train_seconds"])}


def fit_letters(config: TrainConfig, model: Any, tokenizer: Any, examples: "list[LetterExample]", folder: "TrainDir",
                on_log: OnLog | None = None) -> dict[str, Any]:
    """Train ``model`` on letter examples (the loss over the option letters); manifest fields of the run."""
    from salam.train.letters import LetterCollator, letter_trainer_class

    return fit(config, model, [e.as_row() for e in examples], LetterCollator(tokenizer, config.max_length),
               letter_trainer_class(), folder, on_log, sum(len(ids) for ids in tokenizer([e.prompt for e in examples])["input_ids"]))
