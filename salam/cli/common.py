"""Options and helpers shared by CLI command groups (no heavy imports here)."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import typer

ModelOpt = typer.Option("local", "--model", "-m", help="Main model spec (see `salam ask --help`).")
BaseUrlOpt = typer.Option(None, "--base-url", help="Base URL of an OpenAI-compatible server for openai:<model>.")
MemoryOpt = typer.Option(None, "--memory", help="Memory folder (default: $SALAM_HOME/memory).")
ChromaUrlOpt = typer.Option(None, "--chroma-url", envvar="SALAM_CHROMA_URL", help="Chroma server URL instead of a folder.")
EmbedderOpt = typer.Option(None, "--embedder", help="sentence-transformers id or path (default: bundled all-MiniLM-L6-v2).")
JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")
BatchSizeOpt = typer.Option(8, "--batch-size", min=1, help="Prompts per model call (a local model pads them into one batch).")
EngineOpt = typer.Option("transformers", "--engine", help="What runs local specs: transformers; llamacpp (in-process llama.cpp on the shipped Q4_K_M GGUF: pip install 'salam[llamacpp]'; fastest, close letters can differ); or llamacpp-f32 (llama.cpp on a float32 copy: the letters transformers gives). Training stays on transformers.")
LogprobsOpt = typer.Option("completions", "--logprobs", help="openai: models in choice mode: letter log-probabilities from the completions endpoint (raw prompt; vLLM, llama.cpp) or chat (chat-completions top_logprobs, for chat-only APIs).")
MaxConcurrencyOpt = typer.Option(10, "--max-concurrency", help="openai: models: requests in flight at most (inspect_ai's default, 10).")
MaxRetriesOpt = typer.Option(5, "--max-retries", help="openai: models: retries on rate limits, 5xx and timeouts, with exponential backoff.")
TimeoutOpt = typer.Option(120.0, "--timeout", help="openai: models: seconds one request may take before it is retried.")
DataDirOpt = typer.Option(None, "--data-dir", envvar="SALAM_DATA_DIR", help="Folder with bbq/ and bbh/ (default: $SALAM_DATA_DIR).")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def open_memory(memory: str | None, chroma_url: str | None, embedder: str | None, create: bool = True):
    from salam.memory import MistakeMemory

    return MistakeMemory.open(path=memory, url=chroma_url, embedder=embedder, create=create)


DisplayOpt = typer.Option("rich", "--display", help="rich (progress bars), plain (a line every 10 s) or none.")


@contextmanager
def progress_reporter(display: str) -> Iterator[Callable[[str, int, int], None]]:
    """A (stage, done, total) callback drawing rich bars, plain lines on stderr, or nothing."""
    from salam.errors import SalamError

    if display not in ("rich", "plain", "none"):
        raise SalamError("--display must be rich, plain or none")
    if display != "rich":
        last: dict[str, float] = {}

        def plain(stage: str, done: int, total: int) -> None:
            if display == "plain" and (done == total or time.time() - last.get(stage, 0) > 10):
                last[stage] = time.time()
                typer.echo(f"{stage}: {done}/{total}", err=True)

        yield plain
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description:>14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns) as bar:
        ids: dict[str, Any] = {}

        def rich_bar(stage: str, done: int, total: int) -> None:
            if stage not in ids:
                ids[stage] = bar.add_task(stage, total=total)
            bar.update(ids[stage], completed=done)

        yield rich_bar


def advance_for(report: Callable[[str, int, int], None], stage: str, total: int) -> Callable[[int], None]:
    """Turn a (stage, done, total) reporter into the loops' ``advance(n)`` callback."""
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report(stage, done, total)

    report(stage, 0, total)
    return advance


def rank_option() -> Any:
    """``--rank``: how retrieval orders its hits (one text for every command that retrieves)."""
    from salam.defaults import DEFAULT_RANK, RETRIEVAL_RANKS

    return typer.Option(DEFAULT_RANK, "--rank", callback=one_of(*RETRIEVAL_RANKS), help=(
        "distinct (by similarity, skipping near-copies of a record already taken: no two template twins in one "
        "prompt), similarity (the paper's plain top k) or useful (similarity plus evidence of help minus evidence "
        "of harm, among the 3k most similar)."))


def one_of(*allowed: str) -> Callable[[Any], Any]:
    """An option callback accepting only ``allowed`` values (None passes: the option was not given)."""

    def check(value: Any) -> Any:
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    return check


def similarity(value: float | None) -> float | None:
    """An option callback for a cosine similarity: a finite number from -1 to 1."""
    import math

    if value is not None and not (math.isfinite(value) and -1.0 <= value <= 1.0):
        raise typer.BadParameter(f"must be a cosine similarity from -1 to 1, not {value}")
    return value


def fraction(value: float) -> float:
    """An option callback for a share strictly between 0 and 1."""
    import math

    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise typer.BadParameter(f"must be between 0 and 1 (exclusive), not {value}")
    return value


ANSWER_MODES = ("choice", "generate", "cot")


CONFIRM_ABOVE = 5
"""Destructive commands ask before removing more records than this (or need --yes)."""

YesOpt = typer.Option(False, "--yes", "-y", help=f"Remove without asking, even more than {CONFIRM_ABOVE} records.")


def confirm_removal(count: int, yes: bool) -> None:
    """Ask before removing more than a few records; without a terminal, ``--yes`` is required."""
    from salam.errors import SalamError

    if count <= CONFIRM_ABOVE or yes:
        return
    if not sys.stdin.isatty():
        raise SalamError(f"this would remove {count} records: pass --yes to confirm")
    if not typer.confirm(f"Remove {count} records from the memory?", default=False):
        raise typer.Abort()


def check_output_file(path: Path) -> Path:
    """Refuse, before any work, an output path that is a folder or whose folder is missing or read-only."""
    import os

    from salam.errors import SalamError

    if path.is_dir():
        raise SalamError(f"{path} is a folder: give a file name for the output")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SalamError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SalamError(f"cannot write {path}: permission denied")
    return path
