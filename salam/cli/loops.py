"""``salam gather`` and ``salam exam``: the SALAM loops on a questions file or a benchmark task."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from salam._util.jsonl import write_text_atomic
from salam.cli.common import (
    ANSWER_MODES,
    BatchSizeOpt,
    ChromaUrlOpt,
    DataDirOpt,
    DisplayOpt,
    EmbedderOpt,
    MemoryOpt,
    ModelOpt,
    advance_for,
    check_output_file,
    fraction,
    one_of,
    progress_reporter,
    rank_option,
    similarity,
)
from salam.conditions import CONDITION_NAMES
from salam.defaults import RETRIEVAL_K, RETRIEVAL_THRESHOLD


def _questions(questions: Optional[Path], bench: Optional[str], tasks: Optional[str], side: str, limit: Optional[int],
               data_dir: Optional[str], seed: int, train_fraction: float):
    """Questions from a JSONL file of salam Questions, or one side of a benchmark's seeded split."""
    from salam.errors import SalamError

    if (questions is None) == (bench is None):
        raise SalamError("give either --questions FILE.jsonl or --bench bbq|bbh")
    if questions is not None:
        from salam.loops import load_questions_jsonl

        items = load_questions_jsonl(questions)
        return items[:limit] if limit else items
    from salam.data.questions import benchmark_side

    return benchmark_side(bench or "", side, tasks=[t for t in (tasks or "").split(",") if t], data_dir=data_dir,
                          limit=limit, seed=seed, train_fraction=train_fraction)


SeedOpt = typer.Option(0, "--seed", min=0, help="Seed of the benchmark split (the same split as `salam bench --seed`).")
FractionOpt = typer.Option(0.8, "--train-fraction", callback=fraction, help="Share of each benchmark task in the train split.")


def gather(
    questions: Optional[Path] = typer.Option(None, "--questions", help="JSONL of questions (id, text, options, answer)."),
    bench: Optional[str] = typer.Option(None, "--bench", help="bbq or bbh: gather on its train split."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated tasks/categories."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Questions per task (or in the file)."),
    model: str = ModelOpt,
    assistant: Optional[str] = typer.Option(None, "--assistant", help="Assistant spec (default: the main model)."),
    memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
    namespace: str = typer.Option("default", "--namespace"),
    rounds: int = typer.Option(2, "--rounds", min=0, help="Retries with feedback per mistake."),
    transcript: Path = typer.Option(Path("gather.jsonl"), "--transcript", help="Transcript (JSONL); re-running resumes it."),
    answer_mode: str = typer.Option("generate", "--answer-mode", callback=one_of(*ANSWER_MODES), help="generate or choice (local models)."),
    batch_size: int = BatchSizeOpt,
    data_dir: Optional[str] = DataDirOpt,
    seed: int = SeedOpt, train_fraction: float = FractionOpt, display: str = DisplayOpt,
) -> None:
    """Answer, learn from each mistake (reason + guideline into memory), retry with the guideline."""
    from salam._util.quiet import quiet_libraries
    from salam.assistant import StudyAssistant
    from salam.cli.common import open_memory
    from salam.defaults import ANSWER_MAX_NEW_TOKENS, ASSISTANT_MAX_NEW_TOKENS
    from salam.loops import gather as run_gather
    from salam.models import resolve_chat_model

    quiet_libraries()
    items = _questions(questions, bench, tasks, "train", limit, data_dir, seed, train_fraction)
    main = resolve_chat_model(model, max_new_tokens=ANSWER_MAX_NEW_TOKENS, batch_size=batch_size)
    helper = StudyAssistant(resolve_chat_model(assistant or model, max_new_tokens=ASSISTANT_MAX_NEW_TOKENS, batch_size=batch_size))
    with open_memory(memory, chroma_url, embedder, create=True) as mem, progress_reporter(display) as report_progress:
        report = run_gather(items, main, helper, mem, namespace=namespace, rounds=rounds, transcript=transcript,
                            answer_mode=answer_mode, batch_size=batch_size,  # type: ignore[arg-type]
                            progress=advance_for(report_progress, "gather", len(items)))
    typer.echo(f"{report.questions} questions ({report.skipped} already done): right first {report.correct_first}, "
               f"fixed by feedback {report.fixed}, unfixed {report.unfixed}; {report.mistakes_stored} new mistakes stored; "
               f"assistant parse failures {report.parse_failures}, leaks redacted {report.leaks}; transcript {transcript}")


def exam(
    questions: Optional[Path] = typer.Option(None, "--questions", help="JSONL of questions."),
    bench: Optional[str] = typer.Option(None, "--bench", help="bbq or bbh: examine its test split."),
    tasks: Optional[str] = typer.Option(None, "--tasks"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1),
    model: str = ModelOpt,
    assistant: Optional[str] = typer.Option(None, "--assistant", help="Needed by --condition agent."),
    condition: str = typer.Option("feedback", "--condition", "--source", callback=one_of(*CONDITION_NAMES), help="none, correct, mistake, feedback, feedback_only, agent."),
    k: int = typer.Option(RETRIEVAL_K, "-k", min=1, help="Memories per question (the paper's BBQ value)."),
    threshold: float = typer.Option(RETRIEVAL_THRESHOLD, "--threshold", callback=similarity, help="Least similarity (the paper's BBQ value)."),
    any_task: bool = typer.Option(False, "--any-task", help="Retrieve memories of any task, not only the question's own."),
    rank: str = rank_option(),
    memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
    namespace: str = typer.Option("default", "--namespace"),
    answer_mode: str = typer.Option("generate", "--answer-mode", callback=one_of(*ANSWER_MODES)),
    batch_size: int = BatchSizeOpt,
    output: Path = typer.Option(Path("exam.jsonl"), "--output", "-o", help="Per-question results (JSONL)."),
    data_dir: Optional[str] = DataDirOpt,
    seed: int = SeedOpt, train_fraction: float = FractionOpt, display: str = DisplayOpt,
) -> None:
    """Answer questions with what the memory condition retrieves; print accuracy."""
    from salam._util.quiet import quiet_libraries
    from salam.assistant import StudyAssistant
    from salam.cli.common import open_memory
    from salam.conditions import condition_spec
    from salam.defaults import ANSWER_MAX_NEW_TOKENS, ASSISTANT_MAX_NEW_TOKENS
    from salam.loops import examine
    from salam.models import resolve_chat_model

    condition_spec(condition)
    check_output_file(output)
    quiet_libraries()
    items = _questions(questions, bench, tasks, "test", limit, data_dir, seed, train_fraction)
    main = resolve_chat_model(model, max_new_tokens=ANSWER_MAX_NEW_TOKENS, batch_size=batch_size)
    helper = StudyAssistant(resolve_chat_model(assistant, max_new_tokens=ASSISTANT_MAX_NEW_TOKENS, batch_size=batch_size)) if assistant else None
    with open_memory(memory, chroma_url, embedder, create=False) as mem, progress_reporter(display) as report_progress:
        results = examine(items, main, mem, condition=condition, k=k, threshold=threshold, namespace=namespace,  # type: ignore[arg-type]
                          assistant=helper, answer_mode=answer_mode, batch_size=batch_size, same_task=not any_task, rank=rank,  # type: ignore[arg-type]
                          progress=advance_for(report_progress, f"exam:{condition}", len(items)))
    write_text_atomic(output, "".join(r.model_dump_json() + "\n" for r in results))
    right = sum(r.correct for r in results)
    typer.echo(f"{condition}: {right}/{len(results)} correct ({100 * right / max(1, len(results)):.1f}%), "
               f"{sum(bool(r.memories) for r in results)} used memories; results in {output}")


def register(app: typer.Typer) -> None:
    app.command()(gather)
    app.command()(exam)
