"""``salam gather`` and ``salam exam``: the SALAM loops on a questions file or a benchmark task."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from salam.cli.common import ChromaUrlOpt, EmbedderOpt, MemoryOpt


def _questions(questions: Optional[Path], bench: Optional[str], tasks: Optional[str], split: str, limit: Optional[int],
               data_dir: Optional[str]):
    """Questions from a JSONL file of salam Questions, or from a benchmark's seeded split."""
    from salam.errors import SalamError

    if (questions is None) == (bench is None):
        raise SalamError("give either --questions FILE.jsonl or --bench bbq|bbh")
    if questions is not None:
        from salam.agent import load_questions_jsonl

        items = load_questions_jsonl(questions)
        return items[:limit] if limit else items
    from salam.bench.runner import BenchConfig, load_benchmark
    from salam.bench.split import balanced_prefix, split_task

    if split not in ("train", "test"):
        raise SalamError("--split must be train or test")
    data, _ = load_benchmark(BenchConfig(benchmark=bench or "", tasks=[t for t in (tasks or "").split(",") if t], data_dir=data_dir))
    return [q for qs in data.values() for q in balanced_prefix(split_task(qs)[0 if split == "train" else 1], limit)]


def _progress(total: int, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    task = bar.add_task(label, total=total)
    return bar, lambda n: bar.advance(task, n)


def register(app: typer.Typer) -> None:
    @app.command()
    def gather(
        questions: Optional[Path] = typer.Option(None, "--questions", help="JSONL of questions (id, text, options, answer)."),
        bench: Optional[str] = typer.Option(None, "--bench", help="bbq or bbh: gather on its train split."),
        tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated tasks/categories."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Questions per task (or in the file)."),
        model: str = typer.Option("local", "--model", "-m"),
        assistant: Optional[str] = typer.Option(None, "--assistant", help="Assistant spec (default: the main model)."),
        memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
        namespace: str = typer.Option("default", "--namespace"),
        rounds: int = typer.Option(2, "--rounds", help="Retries with feedback per mistake."),
        transcript: Path = typer.Option(Path("gather.jsonl"), "--transcript", help="Transcript (JSONL); re-running resumes it."),
        answer_mode: str = typer.Option("generate", "--answer-mode", help="generate or choice (local models)."),
        batch_size: int = typer.Option(8, "--batch-size"),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="SALAM_DATA_DIR"),
    ) -> None:
        """Answer, learn from each mistake (reason + guideline into memory), retry with the guideline."""
        from salam.agent import gather as run_gather
        from salam.assistant import StudyAssistant
        from salam.cli.common import open_memory
        from salam.models import resolve_chat_model
        from salam.quiet import quiet_libraries

        quiet_libraries()
        items = _questions(questions, bench, tasks, "train", limit, data_dir)
        main = resolve_chat_model(model, max_new_tokens=12, batch_size=batch_size)
        helper = StudyAssistant(resolve_chat_model(assistant or model, max_new_tokens=64, batch_size=batch_size))
        with open_memory(memory, chroma_url, embedder, create=True) as mem:
            bar, tick = _progress(len(items), "gather")
            with bar:
                report = run_gather(items, main, helper, mem, namespace=namespace, rounds=rounds, transcript=transcript,
                                    answer_mode=answer_mode, batch_size=batch_size, progress=tick)  # type: ignore[arg-type]
        typer.echo(f"{report.questions} questions ({report.skipped} already done): right first {report.correct_first}, "
                   f"fixed by feedback {report.fixed}, unfixed {report.unfixed}; {report.mistakes_stored} new mistakes stored; "
                   f"assistant parse failures {report.parse_failures}, leaks redacted {report.leaks}; transcript {transcript}")

    @app.command()
    def exam(
        questions: Optional[Path] = typer.Option(None, "--questions", help="JSONL of questions."),
        bench: Optional[str] = typer.Option(None, "--bench", help="bbq or bbh: examine its test split."),
        tasks: Optional[str] = typer.Option(None, "--tasks"),
        limit: Optional[int] = typer.Option(None, "--limit"),
        model: str = typer.Option("local", "--model", "-m"),
        assistant: Optional[str] = typer.Option(None, "--assistant", help="Needed by --source agent."),
        source: str = typer.Option("feedback", "--source", help="none, correct, mistake, feedback, feedback_only, agent."),
        k: int = typer.Option(3, "-k"),
        threshold: float = typer.Option(0.9, "--threshold"),
        memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
        namespace: str = typer.Option("default", "--namespace"),
        answer_mode: str = typer.Option("generate", "--answer-mode"),
        batch_size: int = typer.Option(8, "--batch-size"),
        output: Path = typer.Option(Path("exam.jsonl"), "--output", "-o", help="Per-question results (JSONL)."),
        data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="SALAM_DATA_DIR"),
    ) -> None:
        """Answer questions with what the memory source retrieves; print accuracy."""
        from salam.agent import examine
        from salam.assistant import StudyAssistant
        from salam.cli.common import open_memory
        from salam.errors import SalamError
        from salam.guidance import SOURCES
        from salam.models import resolve_chat_model
        from salam.quiet import quiet_libraries

        if source not in SOURCES:
            raise SalamError(f"--source must be one of {', '.join(SOURCES)}")
        quiet_libraries()
        items = _questions(questions, bench, tasks, "test", limit, data_dir)
        main = resolve_chat_model(model, max_new_tokens=12, batch_size=batch_size)
        helper = StudyAssistant(resolve_chat_model(assistant, max_new_tokens=64, batch_size=batch_size)) if assistant else None
        with open_memory(memory, chroma_url, embedder, create=False) as mem:
            bar, tick = _progress(len(items), f"exam:{source}")
            with bar:
                results = examine(items, main, mem, source=source, k=k, threshold=threshold, namespace=namespace,  # type: ignore[arg-type]
                                  assistant=helper, answer_mode=answer_mode, batch_size=batch_size, progress=tick)  # type: ignore[arg-type]
        output.write_text("".join(r.model_dump_json() + "\n" for r in results))
        right = sum(r.correct for r in results)
        typer.echo(f"{source}: {right}/{len(results)} correct ({100 * right / max(1, len(results)):.1f}%), "
                   f"{sum(bool(r.memories) for r in results)} used memories; results in {output}")
