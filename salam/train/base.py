"""What every training method shares: the base model, LoRA, CPU trainer defaults, logging, manifest, resume.

A method is one config dataclass (subclassing :class:`TrainConfig`, documented fields) plus one
function or trainer built from these pieces, as TRL pairs ``SFTConfig`` with ``SFTTrainer``.
TRL, PEFT and transformers are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from salam._util.jsonl import write_json_atomic
from salam.errors import SalamError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
"""All linear layers of a Gemma/Llama-style block: the probe that moved BBQ used all of them."""

OnLog = Callable[[int, int, float], None]
"""Called with (step, max_steps, loss) whenever the trainer logs a loss."""


@dataclass
class TrainConfig:
    """Fields every training method has."""

    out: Path
    """Folder for the trained weights, checkpoints and manifest."""
    base: str = "local"
    """Base model: ``local`` (the embedded Gemma 3 270M) or ``hf:<local folder>``."""
    max_steps: int = -1
    """Stop after this many optimizer steps (-1: ``epochs`` decides)."""
    epochs: float = 1.0
    """Passes over the training data."""
    batch_size: int = 4
    """Examples per forward pass."""
    grad_accum: int = 2
    """Forward passes per optimizer step."""
    learning_rate: float = 2e-4
    """Peak learning rate (cosine schedule, two warm-up steps)."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA input."""
    max_length: int = 1024
    """Longest tokenised example; longer ones are cut (prompts first, so the completion stays)."""
    seed: int = 0
    """Seed of data order and initialisation."""
    save_steps: int = 25
    """Checkpoint every this many steps (what ``--resume`` continues from)."""


def base_model_dir(base: str) -> tuple[Path, str]:
    """The base model's folder and a hash naming its weights (for the manifest)."""
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


def texts_hash(texts: Iterable[str]) -> str:
    """sha256 over training texts, so a manifest says exactly which data trained the weights."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
    return h.hexdigest()


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def prepare_training() -> None:
    """Thread policy and quiet libraries, before torch is imported."""
    from salam._util.quiet import quiet_libraries
    from salam.models.threads import configure_torch_threads, prepare_torch_env

    prepare_torch_env()
    quiet_libraries()
    configure_torch_threads()


def load_base(config: TrainConfig) -> tuple[Any, Any, Path, str]:
    """(model, tokenizer, folder, weights hash) of the base model, float32 on CPU, with a pad token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir, base_hash = base_model_dir(config.base)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype="float32")
    return model, tokenizer, base_dir, base_hash


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=LORA_TARGETS, task_type="CAUSAL_LM")


def cpu_trainer_args(config: TrainConfig, quiet: bool = False) -> dict[str, Any]:
    """Keyword arguments for TRL/transformers training args that every method shares: float32, and the CPU
    unless an accelerator is there (then ``accelerate launch`` spreads the same command over its devices)."""
    import torch

    return dict(
        output_dir=str(Path(config.out) / "checkpoints"), max_steps=config.max_steps, num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum, learning_rate=config.learning_rate, lr_scheduler_type="cosine",
        warmup_steps=2, logging_steps=5, save_steps=config.save_steps, save_total_limit=2, eval_strategy="no",
        use_cpu=not torch.cuda.is_available(), bf16=False, fp16=False, gradient_checkpointing=False, report_to=[], seed=config.seed,
        dataloader_num_workers=0, disable_tqdm=quiet,
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


def last_checkpoint(out: Path) -> Path | None:
    """The newest ``checkpoints/checkpoint-N`` under ``out``: where a killed run resumes."""
    folder = Path(out) / "checkpoints"
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])) if folder.is_dir() else []
    return found[-1] if found else None


@dataclass
class TrainRun:
    """Timing and the loss log of one trainer run, turned into manifest fields."""

    losses: list[dict[str, float]] = field(default_factory=list)
    began: float = field(default_factory=time.perf_counter)
    resumed_from: Path | None = None

    def start(self) -> None:
        """Start the clock (call right before ``trainer.train``: tokenising is not training)."""
        self.began = time.perf_counter()

    def fields(self, result: Any, tokens_per_epoch: int, epochs: float) -> dict[str, Any]:
        seconds = time.perf_counter() - self.began
        epochs_done = float(result.metrics.get("epoch", epochs))
        return {
            "final_train_loss": float(result.training_loss),  # TRL: mean over the run; the last step is in loss_log
            "loss_log": self.losses, "steps": int(result.global_step), "train_seconds": seconds,
            "resumed_from": str(self.resumed_from) if self.resumed_from else None,
            "train_tokens_per_epoch": tokens_per_epoch,
            "tokens_per_second": tokens_per_epoch * epochs_done / seconds if seconds else None,
            "peak_rss_mb": peak_rss_mb(),
        }


def settings_of(config: TrainConfig) -> dict[str, Any]:
    """The config as JSON-friendly settings for the manifest."""
    return {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
            for k, v in asdict(config).items()}


def write_manifest(out: Path, name: str, manifest: dict[str, Any]) -> None:
    """``out/<name>`` with provenance (salam version, git sha, time) first, written atomically."""
    from salam.provenance import provenance

    write_json_atomic(Path(out) / name, {**provenance(), **manifest})
