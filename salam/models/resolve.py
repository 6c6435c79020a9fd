"""One function turns a model spec into a LangChain chat model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from salam.errors import MissingExtraError, ModelSpecError

SPEC_FORMS = (
    "local (the embedded Gemma 3 270M), local+lora:<adapter dir>, hf:<hub id or path>, "
    "<provider>:<model> such as openai:gpt-4o-mini or ollama:llama3.1:8b (openai:<model> with "
    "--base-url or OPENAI_BASE_URL for any OpenAI-compatible server), or a BaseChatModel instance"
)

ENGINES = ("transformers", "llamacpp", "llamacpp-f32")
"""What runs the embedded model: transformers (trains too), llama.cpp in-process on the GGUF as shipped (the
``[llamacpp]`` extra; fastest, close letters can differ), or llama.cpp on its float32 copy (letters equal to
transformers', ~2x its one-sequence speed)."""

# provider -> the salam extra that installs its LangChain integration
_EXTRAS = {"openai": "openai", "azure_openai": "openai", "ollama": "ollama", "anthropic": "anthropic"}


def check_engine(engine: str) -> None:
    """Refuse an unknown engine, and llamacpp without its extra, in one line."""
    if engine not in ENGINES:
        raise ModelSpecError(f"--engine must be {', '.join(ENGINES[:-1])} or {ENGINES[-1]}, not {engine!r}")
    if engine.startswith("llamacpp"):
        from salam.models.llamacpp import require_llama_cpp

        require_llama_cpp()


def resolve_chat_model(spec: Any, *, base_url: str | None = None, serving: Any = None, engine: str = "transformers",
                       **kwargs: Any):
    """Return a ``BaseChatModel`` for ``spec``; kwargs go to the model (e.g. ``max_new_tokens`` locally).

    ``serving`` (:class:`salam.models.serving.ServingOptions`) sets concurrency, retries, timeout and the
    logprobs endpoint of ``openai:`` models; local models keep their batching. ``engine`` runs ``local`` and
    ``local+lora:`` specs on transformers or on llama.cpp.
    """
    from langchain_core.language_models import BaseChatModel

    if isinstance(spec, BaseChatModel):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"unknown model spec {spec!r}; use {SPEC_FORMS}")
    spec = spec.strip()
    if spec == "local" or spec.startswith("local+lora:"):
        adapter = spec.split(":", 1)[1] if ":" in spec else None
        check_engine(engine)
        if engine.startswith("llamacpp"):
            from salam.models.llamacpp import embedded_llamacpp

            return embedded_llamacpp(adapter, float32=engine == "llamacpp-f32", **_local_kwargs(kwargs))
        return _embedded(adapter, **kwargs)
    if spec.startswith("hf:"):
        return _huggingface(spec[3:], **kwargs)
    if ":" in spec:
        return _provider(spec, base_url=base_url, serving=serving, **_provider_kwargs(kwargs))
    raise ModelSpecError(f"unknown model spec {spec!r}; use {SPEC_FORMS}")


def _local_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = {"max_new_tokens", "temperature", "stop", "batch_size", "max_input_tokens"}
    return {k: v for k, v in kwargs.items() if k in allowed and v is not None}


def _provider_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in kwargs.items() if k in {"temperature", "stop"} and v is not None}
    if kwargs.get("max_new_tokens"):
        out["max_tokens"] = kwargs["max_new_tokens"]
    return out


def _embedded(adapter_dir: str | None, **kwargs: Any):
    from salam.models.embedded import EMBEDDED_NAME, ensure_embedded_model
    from salam.models.local import local_model_from_dir

    # The adapter's folder and its parent: a training's stages share names (stage2, iter-1), their runs do not.
    name = EMBEDDED_NAME if adapter_dir is None else f"{EMBEDDED_NAME}+lora:{'/'.join(Path(adapter_dir).resolve().parts[-2:])}"
    return local_model_from_dir(ensure_embedded_model(), name=name, adapter_dir=adapter_dir, **_local_kwargs(kwargs))


def _huggingface(ref: str, **kwargs: Any):
    from salam.models.local import local_model_from_dir

    return local_model_from_dir(hub_or_folder(ref), name=ref, **_local_kwargs(kwargs))


def hub_or_folder(ref: str) -> Path:
    """The folder of ``hf:REF``: a local path as it is, a hub id downloaded once into the Hugging Face cache."""
    if not ref:
        raise ModelSpecError(f"hf: needs a hub id or a local path; use {SPEC_FORMS}")
    path = Path(ref).expanduser()
    if path.exists():
        return path
    # A hub id: download once into the Hugging Face cache (users have a network; tests do not).
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(ref))
    except Exception as exc:  # offline, unknown repo, gated model, network errors: all one line for the user
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelSpecError(f"cannot get model {ref!r} from the Hugging Face hub: {reason} "
                             "(give hf:<local folder> to use a model on disk)") from exc


def _provider(spec: str, base_url: str | None, serving: Any = None, **kwargs: Any):
    from langchain.chat_models import init_chat_model

    provider, name = spec.split(":", 1)
    base_url = base_url or (os.environ.get("OPENAI_BASE_URL") if provider == "openai" else None)
    if base_url:
        kwargs["base_url"] = base_url
        if provider == "openai" and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore the key
    try:
        if provider == "openai":
            from salam.models.served import ServedChatModel

            return ServedChatModel.connect(name, serving=serving, **kwargs)
        return init_chat_model(spec, **kwargs)
    except ImportError as exc:
        extra = _EXTRAS.get(provider)
        hint = f"pip install 'salam[{extra}]'" if extra else f"pip install langchain-{provider.replace('_', '-')}"
        raise MissingExtraError(f"model provider {provider!r} is not installed: {hint}") from exc
    except ValueError as exc:
        raise ModelSpecError(f"unknown model spec {spec!r} ({str(exc).splitlines()[0]}); use {SPEC_FORMS}") from exc


def letter_scoring(model: Any) -> str:
    """What turns a choice-mode prompt into letter scores, as the manifest and the reports say it."""
    endpoint = getattr(model, "endpoint", None)
    if isinstance(endpoint, str):
        return endpoint
    return f"logits of one forward pass ({getattr(model, 'engine', 'transformers')})"


def model_label(model: Any) -> str:
    """A short, stable name for logs and manifests."""
    for attr in ("model_name", "model", "model_id", "name_"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
