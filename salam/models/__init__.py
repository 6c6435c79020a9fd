"""Chat model resolution and the local transformers backend (torch is imported lazily)."""

from salam.models.resolve import SPEC_FORMS, model_label, resolve_chat_model

__all__ = ["SPEC_FORMS", "model_label", "resolve_chat_model"]
