"""A PEFT LoRA adapter from ``salam train`` as llama.cpp's adapter GGUF, written once beside it.

llama.cpp's own converter (``convert_lora_to_gguf.py``) is a script of its source tree, not of any package,
and needs the base model's Hugging Face config to pick its model class. For the embedded Gemma 3 the mapping
is plain — each ``lora_A``/``lora_B`` pair becomes ``<gguf tensor>.lora_a``/``.lora_b`` unchanged, under the
``adapter.*`` keys — so it is written here with the ``gguf`` package, whose tensor-name map is llama.cpp's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from salam.errors import SalamError

ADAPTER_GGUF = "adapter_model.gguf"
ARCHITECTURE = "gemma3"
_LAYER = re.compile(r"\.layers\.(\d+)\.")


def adapter_gguf(adapter_dir: Path) -> Path:
    """The adapter's GGUF, converted now if it is missing or older than the adapter's weights."""
    weights = adapter_dir / "adapter_model.safetensors"
    config_path = adapter_dir / "adapter_config.json"
    if not weights.is_file() or not config_path.is_file():
        raise SalamError(f"not a LoRA adapter folder (no adapter_config.json and adapter_model.safetensors): {adapter_dir}")
    target = adapter_dir / ADAPTER_GGUF
    if target.is_file() and target.stat().st_mtime >= weights.stat().st_mtime:
        return target
    config = json.loads(config_path.read_text())
    if config.get("use_rslora") or config.get("use_dora"):
        raise SalamError(f"{adapter_dir}: rsLoRA/DoRA adapters cannot be converted for llama.cpp; use --engine transformers")
    partial = target.with_suffix(".gguf.partial")
    write_adapter_gguf(weights, float(config["lora_alpha"]), partial)
    partial.replace(target)
    return target


def write_adapter_gguf(weights: Path, alpha: float, out: Path) -> None:
    """Write ``weights`` (PEFT safetensors) as a llama.cpp LoRA adapter of the embedded architecture."""
    import gguf
    from safetensors.numpy import load_file

    tensors = load_file(str(weights))
    layers = [int(m.group(1)) for name in tensors if (m := _LAYER.search(name))]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, max(layers, default=0) + 1)
    writer = gguf.GGUFWriter(str(out), ARCHITECTURE)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name, array in sorted(tensors.items()):
        part = ".lora_A.weight" if ".lora_A.weight" in name else ".lora_B.weight" if ".lora_B.weight" in name else None
        if part is None:
            raise SalamError(f"{weights}: {name} is not a LoRA A/B matrix (a full fine-tune or modules_to_save?); "
                             "use --engine transformers")
        module = name.removeprefix("base_model.model.").replace(part, ".weight")
        mapped = names.get_name(module, try_suffixes=(".weight",))
        if mapped is None:
            raise SalamError(f"{weights}: llama.cpp has no tensor for {module}")
        suffix = ".lora_a" if part == ".lora_A.weight" else ".lora_b"
        writer.add_tensor(mapped + suffix, array.astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
