"""Plain supervised fine-tuning of the main model on a benchmark's training split (the baseline of every recipe).

``SFTTrainConfig`` + ``train_sft``: LoRA (default) or full fine-tuning with the embedding matrix frozen,
on the gold answers of the training split, with the letter loss of :mod:`salam.train.letters`. The
folder ends up holding what ``--model SPEC`` loads; the manifest records the accuracy the trained model
reached on validation questions, which the spec reproduces (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salam.answering.answerer import answer_prompt
from salam.train.base import (
    BenchTrainConfig,
    OnLog,
    check_base,
    prepare_model,
    prepare_training,
    settings_of,
    texts_hash,
    training_questions,
    write_manifest,
)
from salam.train.folder import MANIFEST, TrainDir, save_trained
from salam.train.letters import LetterExample, letter_accuracy
from salam.train.trainer import fit_letters


@dataclass
class SFTTrainConfig(BenchTrainConfig):
    """Supervised fine-tuning on gold answers (choice mode: the option letter); every field is shared."""


def train_sft(config: SFTTrainConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None,
              log: Any = print) -> dict[str, Any]:
    """Fine-tune on the training split's gold letters into ``config.out``; returns the manifest (with ``spec``)."""
    folder = TrainDir(Path(config.out))
    train, validation = training_questions(config)
    check_base(config.base)
    with folder.claim("sft", settings_of(config), resume, overwrite):
        log(f"sft: {len(train)} training questions, {len(validation)} validation questions")
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
