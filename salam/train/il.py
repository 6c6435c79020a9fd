"""Imitation learning: LoRA fine-tuning of the study assistant with TRL's SFTTrainer, on CPU.

The config dataclass + trainer pair follows TRL. Loss is on the completion only (the feedback JSON);
checkpoints let a killed run resume; DIR ends up holding a PEFT adapter that ``local+lora:DIR`` loads.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from salam.errors import SalamError
from salam.train.dataset import Example, build_examples

MIN_EXAMPLES = 64


@dataclass
class ILConfig:
    out: Path
    transcripts: list[Path] = field(default_factory=list)
    teacher: list[Path] = field(default_factory=list)
    base: str = "local"
    limit: int | None = None
    max_steps: int = -1
    epochs: float = 1.0
    batch_size: int = 4
    grad_accum: int = 2
    learning_rate: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_length: int = 1024
    min_examples: int = MIN_EXAMPLES
    seed: int = 0
    save_steps: int = 25


def _base_dir(base: str) -> tuple[Path, str]:
    """The base model folder and a hash naming its weights."""
    if base == "local":
        from salam.models.embedded import _gguf_package, ensure_embedded_model

        return ensure_embedded_model(), _gguf_package().EXPECTED_SHA256
    if base.startswith("hf:") and Path(base[3:]).is_dir():
        path = Path(base[3:])
        digest = hashlib.sha256()
        for f in sorted(path.glob("*.safetensors")):
            digest.update(f.name.encode())
            digest.update(str(f.stat().st_size).encode())
        return path, digest.hexdigest()
    raise SalamError(f"--base must be 'local' or hf:<local folder>, not {base!r}")


def _data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(ex.prompt.encode())
        h.update(ex.completion.encode())
    return h.hexdigest()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def train_il(config: ILConfig, on_log: Any = None) -> dict[str, Any]:
    """Train a LoRA adapter into ``config.out`` and return the manifest written there."""
    train, val, report = build_examples(config.transcripts, config.teacher, config.limit, config.seed)
    if len(train) < config.min_examples:
        raise SalamError(
            f"only {len(train)} training examples after filtering ({report.counts}); at least {config.min_examples} "
            "are needed (--min-examples to change it)"
        )
    from salam.models.threads import configure_torch_threads, prepare_torch_env
    from salam.quiet import quiet_libraries

    prepare_torch_env()
    quiet_libraries()
    configure_torch_threads()
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    base_dir, base_hash = _base_dir(config.base)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text("".join(json.dumps(asdict(e)) + "\n" for e in train))
    (out / "validation.jsonl").write_text("".join(json.dumps(asdict(e)) + "\n" for e in val))
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype="float32")
    to_ds = lambda rows: Dataset.from_list([{"prompt": e.prompt, "completion": e.completion} for e in rows])  # noqa: E731
    args = SFTConfig(
        output_dir=str(out / "checkpoints"), max_steps=config.max_steps, num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate, lr_scheduler_type="cosine",
        warmup_steps=2, logging_steps=5, save_steps=config.save_steps, save_total_limit=2, eval_strategy="no",
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False, max_length=config.max_length,
        completion_only_loss=True, packing=False, report_to=[], seed=config.seed, dataloader_num_workers=0,
        disable_tqdm=on_log is not None,
    )
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                      task_type="CAUSAL_LM")
    losses: list[dict[str, float]] = []

    class Recorder(TrainerCallback):
        def on_log(self, _args, state, _control, logs=None, **_kw):  # noqa: ANN001
            if logs and "loss" in logs:
                losses.append({"step": state.global_step, "loss": float(logs["loss"])})
                if on_log:
                    on_log(state.global_step, state.max_steps, float(logs["loss"]))

    trainer = SFTTrainer(model=model, args=args, train_dataset=to_ds(train), eval_dataset=to_ds(val) if val else None,
                         processing_class=tokenizer, peft_config=lora, callbacks=[Recorder()])
    tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*")) if (out / "checkpoints").is_dir() else []
    began = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoints[-1]) if checkpoints else None)
    seconds = time.perf_counter() - began
    eval_loss = trainer.evaluate()["eval_loss"] if val else None
    trainer.save_model(str(out))  # adapter_config.json + adapter weights in DIR
    tokenizer.save_pretrained(str(out))
    epochs_done = float(result.metrics.get("epoch", config.epochs))
    manifest = {
        "base": config.base, "base_model_sha256": base_hash, "data_sha256": _data_hash(train + val),
        "counts": report.counts, "sources": {s: sum(1 for e in train if e.source == s) for s in ("transcript", "teacher")},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "final_train_loss": float(result.training_loss),  # TRL: mean over the run; the last step is in loss_log
        "validation_loss": eval_loss, "loss_log": losses,
        "steps": int(result.global_step), "train_seconds": seconds, "resumed_from": str(checkpoints[-1]) if checkpoints else None,
        "train_tokens_per_epoch": tokens, "tokens_per_second": tokens * epochs_done / seconds if seconds else None,
        "peak_rss_mb": _peak_rss_mb(),
    }
    (out / "salam_il_manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest
