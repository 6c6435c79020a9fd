"""Imitation learning: LoRA fine-tuning of the study assistant with TRL's SFTTrainer, on CPU.

``ILConfig`` + ``train_il`` on the shared training base (:mod:`salam.train.base`). Loss is on the
completion only (the feedback JSON); checkpoints let a killed run resume; DIR ends up holding a
PEFT adapter that ``local+lora:DIR`` loads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from salam.errors import SalamError
from salam.train.base import (
    OnLog,
    TrainConfig,
    check_base,
    load_base,
    lora_config,
    prepare_training,
    settings_of,
    texts_hash,
    write_manifest,
)
from salam.train.folder import MANIFEST, TrainDir
from salam.train.il.data import build_examples
from salam.train.trainer import TrainRun, cpu_trainer_args, last_checkpoint, loss_recorder, run_trainer

MIN_EXAMPLES = 64


@dataclass
class ILConfig(TrainConfig):
    """Imitation learning of the study assistant on successful exchanges and teacher feedback."""

    transcripts: list[Path] = field(default_factory=list)
    """Gather transcripts whose successful exchanges become examples."""
    teacher: list[Path] = field(default_factory=list)
    """Teacher feedback files (the SALAM release's ``*_feedback_gpt4.json``)."""
    limit: int | None = None
    """Use at most this many examples."""
    min_examples: int = MIN_EXAMPLES
    """Refuse to train on fewer examples."""

    BOUNDS = {**TrainConfig.BOUNDS, "min_examples": (1, None)}


def train_il(config: ILConfig, resume: bool = False, overwrite: bool = False, on_log: OnLog | None = None,
             log: Any = None) -> dict[str, Any]:
    """Train a LoRA adapter into ``config.out`` and return the manifest written there."""
    if not config.transcripts and not config.teacher:
        raise SalamError("give --transcripts and/or --teacher")
    for path in [*config.transcripts, *config.teacher]:
        if not Path(path).is_file():
            raise SalamError(f"no such file: {path}")
    train, val, report = build_examples(config.transcripts, config.teacher, config.limit, config.seed)
    if len(train) < config.min_examples:
        raise SalamError(
            f"only {len(train)} training examples after filtering ({report.counts}); at least {config.min_examples} "
            "are needed (--min-examples to change it)"
        )
    prepare_training()
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    folder = TrainDir(Path(config.out))
    check_base(config.base)
    with folder.claim("il", settings_of(config), resume, overwrite):
        out = folder.path
        (out / "train.jsonl").write_text("".join(json.dumps(asdict(e)) + "\n" for e in train))
        (out / "validation.jsonl").write_text("".join(json.dumps(asdict(e)) + "\n" for e in val))
        model, tokenizer, _, base_hash = load_base(config)
        to_ds = lambda rows: Dataset.from_list([{"prompt": e.prompt, "completion": e.completion} for e in rows])  # noqa: E731
        args = SFTConfig(**cpu_trainer_args(config, quiet=on_log is not None), max_length=config.max_length,
                         completion_only_loss=True, packing=False)
        run = TrainRun(resumed_from=last_checkpoint(out))
        trainer = SFTTrainer(model=model, args=args, train_dataset=to_ds(train), eval_dataset=to_ds(val) if val else None,
                             processing_class=tokenizer, peft_config=lora_config(config, model), callbacks=[loss_recorder(run.losses, on_log)])
        tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
        _, fields = run_trainer(trainer, run, tokens, config.epochs)
        eval_loss = trainer.evaluate()["eval_loss"] if val else None
        trainer.save_model(str(out))  # adapter_config.json + adapter weights in DIR
        tokenizer.save_pretrained(str(out))
        manifest = {
            "method": "il", "spec": f"local+lora:{out}" if config.base == "local" else None,
            "base": config.base, "base_model_sha256": base_hash,
            "data_sha256": texts_hash(t for e in train + val for t in (e.prompt, e.completion)),
            "counts": report.counts, "sources": {s: sum(1 for e in train if e.source == s) for s in ("transcript", "teacher")},
            "settings": settings_of(config), "validation_loss": eval_loss, **fields,
        }
        write_manifest(out, MANIFEST, manifest)
        return manifest
