"""The one place a training's number format is decided: loading, the trainer's mixed precision, the manifest.

``auto`` is bfloat16 on an accelerator that has it and float32 on a CPU, where bfloat16 matrix products are
only fast with AVX512-BF16 or AMX and float16 training is not supported by the trainer at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from salam.errors import SalamError

DType = Literal["auto", "float32", "bfloat16", "float16"]


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX, Arm BF16), read from /proc/cpuinfo."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def resolve_dtype(name: str) -> str:
    """``auto`` made concrete, and a format this machine cannot train in refused in one line."""
    import torch

    if name not in ("auto", "float32", "bfloat16", "float16"):
        raise SalamError(f"--dtype must be auto, float32, bfloat16 or float16, not {name!r}")
    accelerator = _has_accelerator()
    if name == "auto":
        return "bfloat16" if accelerator and torch.cuda.is_bf16_supported() else "float32"
    if name == "bfloat16" and not accelerator and not cpu_has_bf16():
        raise SalamError("--dtype bfloat16: this CPU has no bfloat16 instructions (AVX512-BF16, AMX or Arm BF16); "
                         "use --dtype float32")
    if name == "bfloat16" and accelerator and not torch.cuda.is_bf16_supported():
        raise SalamError("--dtype bfloat16: this GPU does not support bfloat16; use --dtype float16 or float32")
    if name == "float16" and not accelerator:
        raise SalamError("--dtype float16 trains only on a GPU (the trainer has no float16 on a CPU); use float32 or bfloat16")
    return name


def torch_dtype(name: str) -> Any:
    """The torch dtype of a resolved name (what the base model is loaded in)."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def trainer_precision(name: str) -> dict[str, bool]:
    """The trainer's mixed-precision flags for a resolved name."""
    return {"bf16": name == "bfloat16", "fp16": name == "float16"}
