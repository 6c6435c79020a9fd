"""Options and helpers shared by CLI command groups (no heavy imports here)."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

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
