"""Plain supervised fine-tuning of the main model on a benchmark's training split (the baseline of every recipe).

``SFTTrainConfig`` + ``train_sft``: LoRA (default) or full fine-tuning with the embedding matrix frozen,
on the gold answers of the training split, with the letter loss of :mod:`salam.train.letters`. The
folder ends up holding what ``--model SPEC`` loads; the manifest records the accuracy the trained model
reached on validation questions, which the spec reproduces (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salam.answering.answerer import answer_prompt
from salam.errors import SalamError
from salam.train.base import (
    OnLog,
    TrainConfig,
    TrainRun,
    cpu_trainer_args,
    last_checkpoint,
    load_base,
    lora_config,
    loss_recorder,
    prepare_training,
    quiet_trainer,
    settings_of,
    texts_hash,
    write_manifest,
)
from salam.train.folder import MANIFEST, TrainDir, save_trained
from salam.train.letters import LetterCollator, LetterExample, letter_accuracy, letter_trainer_class
from salam.types import Question


@dataclass
class SFTTrainConfig(TrainConfig):
    """Supervised fine-tuning on gold answers (choice mode: the option letter)."""

    benchmark: str = "bbq"
    """Benchmark whose training split is the data."""
    tasks: list[str] = field(default_factory=list)
    """Tasks/categories (empty: all available; BBH: the paper's 16)."""
    limit: int | None = 300
    """Training questions per task (from the seeded split, the same one `salam bench` uses)."""
    validation: int = 10
    """Validation questions per task, taken after the training ones (never test questions)."""
    full: bool = False
    """Full fine-tuning (embedding matrix frozen) instead of LoRA."""
    data_dir: str | None = None
    """Folder with bbq/ and bbh/ (default: $SALAM_DATA_DIR)."""
    split_seed: int = 0
    """Seed of the benchmark split (keep it equal to the bench's --seed so test questions stay unseen)."""
    batch_size: int = 8
    learning_rate: float = 2e-4
    grad_accum: int = 1


def training_questions(config: SFTTrainConfig, multiple_choice_only: bool = True) -> tuple[list[Question], list[Question]]:
    """(train, validation) questions of the configured split (only lettered ones unless told otherwise)."""
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark

    data, _ = load_benchmark(config.benchmark, config.tasks, config.data_dir)
    train = side(split_benchmark(data, seed=config.split_seed, train_limit=config.limit), "train")
    offset = config.limit if config.limit is not None else 0
    validation = side(split_benchmark(data, seed=config.split_seed, train_limit=config.validation, train_offset=offset), "train")
    if not multiple_choice_only:
        return train, validation
    mc = [q for q in train if q.is_multiple_choice]
    if not mc:
        raise SalamError("no multiple-choice questions to train on: choice-mode SFT needs lettered options")
    return mc, [q for q in validation if q.is_multiple_choice]


def prepare_model(config: TrainConfig, full: bool, adapter: Path | None = None) -> tuple[Any, Any, str]:
    """(model ready to train, tokenizer, base weights hash): LoRA (optionally continuing ``adapter``) or full."""
    model, tokenizer, _, base_hash = load_base(config)
    if full:
        model.get_input_embeddings().weight.requires_grad_(False)  # Gemma ties the head to it: both stay
        return model, tokenizer, base_hash
    from peft import PeftModel, get_peft_model

    if adapter is not None:
        return PeftModel.from_pretrained(model, str(adapter), is_trainable=True), tokenizer, base_hash
    return get_peft_model(model, lora_config(config)), tokenizer, base_hash


def fit_letters(config: TrainConfig, model: Any, tokenizer: Any, examples: list[LetterExample], folder: TrainDir,
                on_log: OnLog | None = None) -> dict[str, Any]:
    """Train ``model`` on letter examples with the shared CPU trainer settings; manifest fields of the run."""
    return fit(config, model, [e.as_row() for e in examples], LetterCollator(tokenizer, config.max_length),
               letter_trainer_class(), folder, on_log, sum(len(ids) for ids in tokenizer([e.prompt for e in examples])["input_ids"]))


def fit(config: TrainConfig, model: Any, rows: list[dict[str, Any]], collator: Any, trainer_class: type, folder: TrainDir,
        on_log: OnLog | None, tokens: int) -> dict[str, Any]:
    """One trainer run over ``rows`` (resuming the folder's last checkpoint); manifest fields of the run."""
    from datasets import Dataset
    from transformers import TrainingArguments

    args = TrainingArguments(**{**cpu_trainer_args(config, quiet=on_log is not None),
                                "output_dir": str(folder.checkpoints)}, remove_unused_columns=False)
    run = TrainRun(resumed_from=last_checkpoint(folder.path))
    trainer = trainer_class(model=model, args=args, train_dataset=Dataset.from_list(rows), data_collator=collator,
                            callbacks=[loss_recorder(run.losses, on_log)])
    quiet_trainer(trainer)
    run.start()
    result = trainer.train(resume_from_checkpoint=str(run.resumed_from) if run.resumed_from else None)
    fields = run.fields(result, tokens, config.epochs)
    epochs_done = float(result.metrics.get("epoch", config.epochs))
    return {**fields, "examples": len(rows),
            "examples_per_second": len(rows) * epochs_done / max(1e-9, fields["train_seconds"])}


def train_sft(config: SFTTrainConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None) -> dict[str, Any]:
    """Fine-tune on the training split's gold letters into ``config.out``; returns the manifest (with ``spec``)."""
    folder = TrainDir(Path(config.out))
    train, validation = training_questions(config)
    folder.prepare(resume, overwrite)
    prepare_training()
    model, tokenizer, base_hash = prepare_model(config, config.full)
    examples = [LetterExample.for_question(q, answer_prompt(q)) for q in train]
    fields = fit_letters(config, model, tokenizer, examples, folder, on_log)
    val = [LetterExample.for_question(q, answer_prompt(q)) for q in validation]
    manifest = {
        "method": "sft", "base": config.base, "base_model_sha256": base_hash, "benchmark": config.benchmark,
        "tasks": sorted({q.task for q in train}), "train_questions": [q.id for q in train],
        "data_sha256": texts_hash(e.prompt + e.target for e in examples), "seed": config.seed,
        "settings": settings_of(config), **fields,
        "validation_questions": len(val), "validation_accuracy": letter_accuracy(model, tokenizer, val, config.batch_size, config.max_length),
    }
    manifest["spec"] = save_trained(model, tokenizer, folder, config.base, config.full)
    write_manifest(folder.path, MANIFEST, manifest)
    return manifest
