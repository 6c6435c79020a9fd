"""``salam ask``: one question to a model, optionally assisted by the mistake memory."""

from __future__ import annotations

from typing import Optional

import typer

from salam.cli.common import (
    BaseUrlOpt,
    ChromaUrlOpt,
    EmbedderOpt,
    EngineOpt,
    JsonOpt,
    ModelOpt,
    print_json,
    similarity,
)
from salam.defaults import (
    CHAT_ASSISTANT_MAX_NEW_TOKENS,
    CHAT_MAX_NEW_TOKENS,
    RETRIEVAL_K,
    RETRIEVAL_THRESHOLD,
)


def register(app: typer.Typer) -> None:
    @app.command()
    def ask(
        question: str = typer.Argument(..., help="The question (plain text)."),
        model: str = ModelOpt,
        base_url: Optional[str] = BaseUrlOpt,
        engine: str = EngineOpt,
        max_new_tokens: int = typer.Option(CHAT_MAX_NEW_TOKENS, min=1, help="Most tokens to generate (local models)."),
        memory: Optional[str] = typer.Option(None, "--memory", help="Retrieve guidelines from this memory folder."),
        chroma_url: Optional[str] = ChromaUrlOpt,
        embedder: Optional[str] = EmbedderOpt,
        assistant: Optional[str] = typer.Option(None, "--assistant", help="Assistant spec: writes a guideline from retrieved mistakes."),
        namespace: str = typer.Option("default", help="Memory namespace."),
        k: int = typer.Option(RETRIEVAL_K, "-k", min=1, help="Memories to retrieve (the paper's BBQ value)."),
        threshold: float = typer.Option(RETRIEVAL_THRESHOLD, callback=similarity, help="Least cosine similarity of a retrieved memory (the paper's BBQ value)."),
        as_json: bool = JsonOpt,
    ) -> None:
        """Ask MODEL a question. Specs: local, local+lora:DIR, hf:ID, openai:MODEL, ollama:MODEL."""
        from salam._util.quiet import quiet_libraries
        from salam.cli.common import open_memory
        from salam.models import model_label, resolve_chat_model

        quiet_libraries()
        chat = resolve_chat_model(model, base_url=base_url, max_new_tokens=max_new_tokens, engine=engine)
        used = []
        if memory or chroma_url:
            from salam.chat import assist

            mem = open_memory(memory, chroma_url, embedder, create=False)
            helper = resolve_chat_model(assistant, max_new_tokens=CHAT_ASSISTANT_MAX_NEW_TOKENS) if assistant else None
            chat = assist(chat, memory=mem, assistant=helper, namespace=namespace, k=k, threshold=threshold)
        reply = chat.invoke(question)
        used = list(getattr(chat, "last_retrieved", []) or [])
        if as_json:
            print_json({
                "model": model_label(chat),
                "content": reply.content,
                "usage": reply.usage_metadata,
                "memories": [{"id": r.record.id, "similarity": r.similarity, "guideline": r.record.guideline} for r in used],
            })
        else:
            typer.echo(str(reply.content).strip())
