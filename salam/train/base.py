"""What every training method shares: its config fields, the base model and LoRA, the training
questions, and the manifest. The trainer glue (arguments, loss log, timing, resume) is
:mod:`salam.train.trainer`; the folder layout and stage skipping, :mod:`salam.train.folder`.

A method is one config dataclass (subclassing :class:`TrainConfig` or :class:`BenchTrainConfig`, with
documented fields: the CLI derives its options from them) plus one function built from these pieces,
as TRL pairs ``SFTConfig`` with ``SFTTrainer``. TRL, PEFT and transformers are imported inside the
functions that need them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable

from salam._util.jsonl import write_json_atomic
from salam.errors import SalamError
from salam.train.precision import DType

if TYPE_CHECKING:
    from salam.types import Question


OnLog = Callable[[int, int, float], None]
"""Called with (step, max_steps, loss) whenever the trainer logs a loss."""


@dataclass
class TrainConfig:
    """Fields every training method has."""

    out: Path
    """Folder for the trained weights, checkpoints and manifest."""
    base: str = "local"
    """Base model: ``local`` (the embedded Gemma 3 270M) or ``hf:<hub id or folder>`` (any causal LM; a hub id is
    downloaded once)."""
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
    lora_targets: list[str] = field(default_factory=list)
    """Linear layers LoRA adapts, by name (e.g. q_proj,v_proj); empty: every linear layer of the model's blocks."""
    dtype: DType = "auto"
    """Number format of the weights and the trainer: auto (bfloat16 on a GPU that has it, float32 on a CPU),
    float32, bfloat16 or float16 (GPU only)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory for longer sequences or larger batches, ~30% slower."""

    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "max_steps": (-1, None), "epochs": (0.01, None), "batch_size": (1, None), "grad_accum": (1, None),
        "learning_rate": (1e-9, 1.0), "lora_r": (1, None), "lora_alpha": (1, None), "lora_dropout": (0.0, 0.99),
        "max_length": (16, None), "seed": (0, None), "save_steps": (1, None), "limit": (1, None),
        "validation": (0, None), "split_seed": (0, None), "iterations": (1, None), "temperature": (0.01, 5.0),
    }
    """Least and greatest value of numeric fields (None: unbounded); checked on construction, so the
    Python API and the CLI refuse the same values with the same one-line error."""
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Allowed values of string fields that are a choice (``Literal`` fields are found from their type)."""

    def __post_init__(self) -> None:
        check_fields(self)
        if self.dtype != "auto":
            from salam.train.precision import resolve_dtype

            resolve_dtype(self.dtype)  # a format this machine cannot train in: one line, before any folder is touched


@dataclass
class BenchTrainConfig(TrainConfig):
    """A method trained on a benchmark's training split (the seeded split ``salam bench`` uses), in choice mode."""

    benchmark: str = "bbq"
    """Benchmark whose training split is the data (bbq or bbh)."""
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
    """Peak learning rate (cosine schedule, two warm-up steps); 2e-4 suits LoRA, ~5e-5 full fine-tuning."""
    grad_accum: int = 1

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"benchmark": ("bbq", "bbh")}


def base_model_dir(base: str) -> tuple[Path, str]:
    """The base model's folder and a hash naming its weights (for the manifest)."""
    if base == "local":
        from salam.models.embedded import _gguf_package, ensure_embedded_model

        return ensure_embedded_model(), _gguf_package().EXPECTED_SHA256
    if base.startswith("hf:"):
        from salam.models.resolve import hub_or_folder

        path = hub_or_folder(base[3:])
        digest = hashlib.sha256()
        for f in sorted(path.glob("*.safetensors")):
            digest.update(f.name.encode())
            digest.update(str(f.stat().st_size).encode())
        return path, digest.hexdigest()
    raise SalamError(f"--base must be 'local' or hf:<hub id or folder>, not {base!r}")


def check_base(base: str) -> None:
    """Refuse, before any folder is touched, a base that is not ``local`` or an ``hf:`` folder holding a causal LM
    (its config, weights and tokenizer): loading it later would fail after ``--overwrite`` had emptied ``--out``."""
    if base == "local":
        return
    if not base.startswith("hf:"):
        raise SalamError(f"--base must be 'local' or hf:<hub id or folder>, not {base!r}")
    from salam.models.resolve import hub_or_folder

    path = hub_or_folder(base[3:])  # a hub id is downloaded here, once; offline: one line
    if not path.is_dir():
        raise SalamError(f"--base {base}: no such folder")
    missing = [what for what, patterns in (("config.json", ["config.json"]),
                                           ("weights (*.safetensors or pytorch_model*.bin)", ["*.safetensors", "pytorch_model*.bin"]),
                                           ("tokenizer (tokenizer.json, tokenizer.model or tokenizer_config.json)",
                                            ["tokenizer.json", "tokenizer.model", "tokenizer_config.json"]))
               if not any(any(path.glob(p)) for p in patterns)]
    if missing:
        raise SalamError(f"--base {base} is not a model folder: it has no {', no '.join(missing)}")


def texts_hash(texts: Iterable[str]) -> str:
    """sha256 over training texts, so a manifest says exactly which data trained the weights."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
    return h.hexdigest()


def prepare_training() -> None:
    """Thread policy and quiet libraries, before torch is imported."""
    from salam._util.quiet import quiet_libraries
    from salam.models.threads import configure_torch_threads, prepare_torch_env

    prepare_torch_env()
    quiet_libraries()
    configure_torch_threads()


def load_base(config: TrainConfig) -> tuple[Any, Any, Path, str]:
    """(model, tokenizer, folder, weights hash) of the base model in the config's dtype, with a pad token."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from salam.train.precision import resolve_dtype, torch_dtype

    base_dir, base_hash = base_model_dir(config.base)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch_dtype(resolve_dtype(config.dtype)))
    return model, tokenizer, base_dir, base_hash


def check_fields(config: Any) -> None:
    """One-line errors for a config value out of its ``BOUNDS`` or not among its ``CHOICES``/``Literal`` values."""
    import math
    import typing
    from dataclasses import fields

    hints = typing.get_type_hints(type(config))
    for f in fields(config):
        value, flag = getattr(config, f.name), "--" + f.name.replace("_", "-")
        lo, hi = config.BOUNDS.get(f.name, (None, None))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise SalamError(f"{flag} must be a finite number, not {value}")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                bounds = f"from {lo} to {hi}" if lo is not None and hi is not None else f"at least {lo}" if lo is not None else f"at most {hi}"
                raise SalamError(f"{flag} must be {bounds}, not {value}")
        allowed = config.CHOICES.get(f.name) or literal_values(hints.get(f.name))
        if allowed and value is not None and value not in allowed:
            raise SalamError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")


def literal_values(hint: Any) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` type (or ``Literal[...] | None``), else ()."""
    import typing

    if typing.get_origin(hint) is typing.Literal:
        return tuple(typing.get_args(hint))
    for arg in typing.get_args(hint):
        if typing.get_origin(arg) is typing.Literal:
            return tuple(typing.get_args(arg))
    return ()


def prepare_model(config: TrainConfig, full: bool, adapter: Path | None = None) -> tuple[Any, Any, str]:
    """(model ready to train, tokenizer, base weights hash): LoRA (optionally continuing ``adapter``) or full."""
    model, tokenizer, _, base_hash = load_base(config)
    if full:
        model.get_input_embeddings().weight.requires_grad_(False)  # Gemma ties the head to it: both stay
        return model, tokenizer, base_hash
    from peft import PeftModel, get_peft_model

    if config.gradient_checkpointing:
        model.enable_input_require_grads()  # LoRA's frozen inputs must carry gradients through recomputed blocks
    if adapter is not None:
        return PeftModel.from_pretrained(model, str(adapter), is_trainable=True), tokenizer, base_hash
    from transformers import set_seed

    set_seed(config.seed)  # LoRA's A matrices start random: the seed, not the run, decides them (and every rank agrees)
    return get_peft_model(model, lora_config(config, model)), tokenizer, base_hash


def train_split_questions(benchmark: str, tasks: list[str] | None, data_dir: str | None, seed: int, limit: int | None,
                          offset: int = 0) -> "list[Question]":
    """The first ``limit`` train-side questions per task after ``offset``, of the seeded split ``salam bench`` uses
    (so its test questions stay unseen; an offset past the trained ones gives held-out training-distribution questions)."""
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark

    data, _ = load_benchmark(benchmark, tasks, data_dir)
    return side(split_benchmark(data, seed=seed, train_limit=limit, train_offset=offset), "train")


def training_questions(config: BenchTrainConfig, multiple_choice_only: bool = True) -> "tuple[list[Question], list[Question]]":
    """(train, validation) questions of the configured split (only lettered ones unless told otherwise)."""
    train = train_split_questions(config.benchmark, config.tasks, config.data_dir, config.split_seed, config.limit)
    validation = train_split_questions(config.benchmark, config.tasks, config.data_dir, config.split_seed, config.validation,
                                       offset=config.limit or 0)
    if not multiple_choice_only:
        return train, validation
    mc = [q for q in train if q.is_multiple_choice]
    if not mc:
        raise SalamError("no multiple-choice questions to train on: choice-mode SFT needs lettered options")
    return mc, [q for q in validation if q.is_multiple_choice]


def lora_config(config: TrainConfig, model: Any) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=lora_targets(model, config.lora_targets), task_type="CAUSAL_LM")


_BLOCKS = (".layers.", ".h.", ".blocks.", ".block.")
"""How decoder stacks name their blocks (Llama/Gemma/Qwen/Mistral, GPT-2/Falcon, MPT, T5-style)."""


def linear_layer_names(model: Any) -> list[str]:
    """The names (last part) of the linear layers inside the model's blocks: what LoRA can adapt (not the head)."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and any(b in f".{name}." for b in _BLOCKS)})


def lora_targets(model: Any, wanted: list[str]) -> list[str]:
    """``wanted`` if each names a linear layer of ``model``, else one line naming the layers it has; empty: all."""
    have = linear_layer_names(model)
    if not have:
        raise SalamError("this base model has no linear layers inside its blocks for LoRA to adapt; use --full")
    if not wanted:
        return have
    missing = [w for w in wanted if w not in have]
    if missing:
        raise SalamError(f"--lora-targets {','.join(missing)}: no such linear layer in this model; it has {', '.join(have)}")
    return list(wanted)


def settings_of(config: TrainConfig) -> dict[str, Any]:
    """The config as JSON-friendly settings for the manifest."""
    return {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
            for k, v in asdict(config).items()}


def write_manifest(out: Path, name: str, manifest: dict[str, Any]) -> None:
    """``out/<name>`` with provenance (salam version, git sha, time) first, written atomically, by the main process
    only (the others wait until it is there)."""
    from salam._util.ranks import current_world
    from salam.provenance import provenance

    world = current_world()
    if world.is_main:
        write_json_atomic(Path(out) / name, {**provenance(), **manifest})
    world.barrier()
