"""Options and helpers shared by CLI command groups (no heavy imports here)."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

ModelOpt = typer.Option("local", "--model", "-m", help="Main model spec (see `salam ask --help`).")
BaseUrlOpt = typer.Option(None, "--base-url", help="Base URL of an OpenAI-compatible server for openai:<model>.")
MemoryOpt = typer.Option(None, "--memory", help="Memory folder (default: $SALAM_HOME/memory).")
ChromaUrlOpt = typer.Option(None, "--chroma-url", envvar="SALAM_CHROMA_URL", help="Chroma server URL instead of a folder.")
EmbedderOpt = typer.Option(None, "--embedder", help="sentence-transformers id or path (default: bundled all-MiniLM-L6-v2).")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def open_memory(memory: str | None, chroma_url: str | None, embedder: str | None, create: bool = True):
    from salam.memory import MistakeMemory

    return MistakeMemory.open(path=memory, url=chroma_url, embedder=embedder, create=create)
