"""``salam memory ...``: inspect and manage the mistake memory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from salam.cli.common import (
    ChromaUrlOpt,
    EmbedderOpt,
    JsonOpt,
    MemoryOpt,
    YesOpt,
    check_output_file,
    confirm_removal,
    one_of,
    open_memory,
    print_json,
    rank_option,
    similarity,
)

app = typer.Typer(help="Inspect and manage the mistake memory.", no_args_is_help=True)


def _preview(text: str, width: int = 90) -> str:
    """One line of stored text for a Rich table: shortened, control codes dropped, markup escaped."""
    from salam._util.text import printable, terminal

    flat = " ".join(printable(text).split())
    return terminal(flat if len(flat) <= width else flat[: width - 1] + "…")


def _answers(record) -> str:  # noqa: ANN001
    return _preview(f"{record.wrong_answer or '-'}→{record.true_answer}", 40)


@app.command()
def path(memory: Optional[str] = MemoryOpt) -> None:
    """Print the memory folder salam would use."""
    from salam._util.home import default_memory_dir

    typer.echo(str(Path(memory).expanduser() if memory else default_memory_dir(create=False)))


@app.command()
def stats(memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt,
          embedder: Optional[str] = EmbedderOpt, as_json: bool = JsonOpt) -> None:
    """Counts by namespace, kind, task and source; helped and hurt totals."""
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        data = mem.stats()
    if as_json:
        print_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{data['location']}[/] · embedder {data['embedder']} ({data['dim']}d) · {data['total']} records")
    table = Table("namespace", "records", "kinds", "sources", "tasks", "retrieved", "helped", "hurt", "merged", "harmful", "flagged")
    for ns, e in sorted(data["namespaces"].items()):
        fmt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items()))  # noqa: E731
        table.add_row(ns, str(e["total"]), fmt(e["kinds"]), fmt(e["sources"]), str(len(e["tasks"])),
                      str(e["retrieved"]), str(e["helped"]), str(e["hurt"]),
                      f"{e.get('merged_ids', 0)} into {e.get('merged_records', 0)}", str(len(e.get("harmful", []))),
                      str(e.get("flagged", 0)))
    console.print(table)
    for ns, e in sorted(data["namespaces"].items()):
        if e.get("harmful"):
            console.print(f"{ns}: evidence of harm (demoted by --rank useful): {', '.join(e['harmful'][:10])}"
                          + (" ..." if len(e["harmful"]) > 10 else ""))


@app.command("list")
def list_(memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
          namespace: Optional[str] = typer.Option(None, help="Only this namespace."),
          task: Optional[str] = typer.Option(None, help="Only this task."),
          source: Optional[str] = typer.Option(None, callback=one_of("gather", "import", "correction"), help="gather, import or correction."),
          kind: Optional[str] = typer.Option(None, callback=one_of("mistake", "solved"), help="mistake or solved."),
          limit: int = typer.Option(20, min=1, help="Rows per page."), page: int = typer.Option(1, min=1, help="Page number, from 1."),
          flagged: bool = typer.Option(False, "--flagged", help="Only records curation flagged (a near-duplicate with another correct answer)."),
          as_json: bool = JsonOpt) -> None:
    """List records with filters and paging."""
    import itertools

    if kind not in (None, "mistake", "solved"):
        raise typer.BadParameter("--kind must be mistake or solved")
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        found = (r for r in mem.iter_records(namespace, task, source, kind) if r.flagged or not flagged)  # type: ignore[arg-type]
        rows = list(itertools.islice(found, (page - 1) * limit, page * limit))
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "namespace", "task", "wrong→true", "helped/hurt", "question", "guideline")
    for r in rows:
        table.add_row(r.id, _preview(r.namespace), _preview(r.task), _answers(r), f"{r.helped}/{r.hurt}",
                      _preview(r.question, 50), _preview(r.guideline, 60))
    Console().print(table)


@app.command()
def show(record_id: str = typer.Argument(..., help="Record id."), memory: Optional[str] = MemoryOpt,
         chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt, as_json: bool = JsonOpt) -> None:
    """Show one record in full."""
    from salam.errors import SalamError

    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        record = mem.get(record_id)
    if record is None:
        raise SalamError(f"no record with id {record_id}")
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    from salam._util.text import printable

    for key, value in record.model_dump(mode="json").items():
        typer.echo(f"{key}: {printable(str(value))}")


@app.command()
def search(text: str = typer.Argument(..., help="Question text to match."), memory: Optional[str] = MemoryOpt,
           chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
           namespace: str = typer.Option("default", help="Namespace to search."),
           task: Optional[str] = typer.Option(None, help="Only this task."),
           k: int = typer.Option(5, "-k", min=1, help="How many results."),
           threshold: float = typer.Option(0.0, callback=similarity, help="Least cosine similarity."),
           kind: str = typer.Option("mistake", callback=one_of("mistake", "solved"), help="mistake or solved."),
           rank: str = rank_option(),
           as_json: bool = JsonOpt) -> None:
    """Find the stored mistakes most similar to TEXT, with scores and guidelines."""
    if kind not in ("mistake", "solved"):
        raise typer.BadParameter("--kind must be mistake or solved")
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        hits = mem.similar(text, k=k, threshold=threshold, namespace=namespace, task=task, kind=kind, rank=rank)  # type: ignore[arg-type]
    if as_json:
        print_json([{"similarity": h.similarity, **h.record.model_dump(mode="json")} for h in hits])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("similarity", "id", "task", "wrong→true", "question", "guideline")
    for h in hits:
        r = h.record
        table.add_row(f"{h.similarity:.3f}", r.id, _preview(r.task), _answers(r), _preview(r.question, 60),
                      _preview(r.guideline, 80))
    Console().print(table if hits else "no similar memories")


@app.command("import")
def import_(file: Optional[Path] = typer.Argument(None, help="A JSONL export of salam records."),
            salam: Optional[Path] = typer.Option(None, "--salam", help="Folder of the SALAM paper's released files."),
            memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
            namespace: Optional[str] = typer.Option(None, help="Put records in this namespace (default: theirs, or 'default')."),
            as_json: bool = JsonOpt) -> None:
    """Import records from a JSONL export or the SALAM paper's release (idempotent)."""
    from salam.errors import SalamError
    from salam.memory.chroma import check_namespace
    from salam.memory.transfer import (
        ImportReport,
        import_records,
        read_records_jsonl,
        salam_release_records,
    )

    if (file is None) == (salam is None):
        raise SalamError("give either a JSONL FILE or --salam DIR")
    if namespace:
        check_namespace(namespace)
    if salam is not None:
        records, report = salam_release_records(salam, namespace or "default")
    else:
        assert file is not None
        records = read_records_jsonl(file, namespace)
        report = ImportReport(read=len(records))
    with open_memory(memory, chroma_url, embedder, create=True) as mem:
        def acknowledge(done: int) -> None:
            if not as_json:
                sys.stderr.write(f"\rcommitted {done}/{len(records)}")
                sys.stderr.flush()
        try:
            import_records(mem, records, report, on_commit=acknowledge)
        finally:
            if not as_json:
                sys.stderr.write("\n")  # end the progress line, also when interrupted
        total = mem.count()
    result = {"read": report.read, "added": report.added, "already_present": report.read - report.added,
              "without_feedback": report.without_feedback, "redacted": report.redacted, "files": report.files,
              "total_in_memory": total}
    if as_json:
        print_json(result)
    else:
        typer.echo(f"read {report.read}, added {report.added}, already present {report.read - report.added}, "
                   f"without feedback {report.without_feedback}, guidelines naming their answer redacted {report.redacted}; "
                   f"memory now holds {total}")


@app.command()
def export(memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
           namespace: Optional[str] = typer.Option(None, help="Only this namespace."),
           output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout).")) -> None:
    """Export records as JSONL."""
    from salam._util.jsonl import write_text_atomic
    from salam.memory.transfer import export_jsonl

    if output is not None:
        check_output_file(output)
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        lines = list(export_jsonl(mem, namespace))
    text = "".join(line + "\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        typer.echo(f"wrote {len(lines)} records to {output}", err=True)


@app.command()
def prune(memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
          margin: Optional[int] = typer.Option(2, min=1, help="Remove records whose hurt count exceeds helped by at least this."),
          max_age_days: Optional[float] = typer.Option(None, min=0, help="Remove records older than this."),
          max_count: Optional[int] = typer.Option(None, min=0, help="Keep at most this many newest records per namespace."),
          namespace: Optional[str] = typer.Option(None, help="Only this namespace."),
          dry_run: bool = typer.Option(False, help="Say what would go, remove nothing."), yes: bool = YesOpt,
          as_json: bool = JsonOpt) -> None:
    """Remove memories that hurt more than they help, or by age or count."""
    settings = dict(margin=margin, max_age_days=max_age_days, max_count=max_count, namespace=namespace)
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        report = mem.prune(**settings, dry_run=True)  # type: ignore[arg-type]
        if not dry_run and report.removed:
            confirm_removal(report.removed, yes)
            report = mem.prune(**settings)  # type: ignore[arg-type]
    data = {"removed": report.removed, "by_outcome": report.by_outcome, "by_age": report.by_age,
            "by_count": report.by_count, "dry_run": dry_run}
    print_json(data) if as_json else typer.echo(
        f"{'would remove' if dry_run else 'removed'} {report.removed} (outcome {report.by_outcome}, "
        f"age {report.by_age}, count {report.by_count})")


@app.command()
def curate(memory: Optional[str] = MemoryOpt, chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt,
           threshold: float = typer.Option(0.95, help="Least cosine between a record and its cluster's best record (0, 1]."),
           guideline_threshold: float = typer.Option(0.9, "--guideline-threshold", help="Twins whose answers name other "
                                                     "people merge when their guidelines are this similar (cosine, (0, 1])."),
           export: Optional[Path] = typer.Option(None, help="Where the records a curation changes are written first "
                                                 "(default: ./salam-curate-export.jsonl); `memory import` of it restores them."),
           assistant: Optional[str] = typer.Option(None, "--assistant", help="Consolidate each cluster's guideline with this model "
                                                   "(default: keep the best member's)."),
           namespace: Optional[str] = typer.Option(None, help="Only this namespace."),
           max_records: Optional[int] = typer.Option(None, "--max-records", help="Then keep at most this many records per "
                                                     "namespace, evicting the least useful, least recently used (exported first)."),
           dry_run: bool = typer.Option(False, help="Print the plan (clusters, sizes, a sample); change nothing."),
           yes: bool = YesOpt, as_json: bool = JsonOpt) -> None:
    """Merge near-duplicate records (same namespace and task) into one each, keeping ids and summed counters;
    flag near-duplicates whose correct answer contradicts; optionally cap the records per namespace."""
    from salam.memory.curate import check_capacity, check_threshold, curate as run_curation, evict

    check_threshold(threshold)
    check_threshold(guideline_threshold, "--guideline-threshold")
    check_capacity(max_records)
    export = export or Path("salam-curate-export.jsonl")
    consolidate = None
    if assistant and not dry_run:
        from salam.assistant.consolidate import consolidator
        from salam.defaults import CHAT_ASSISTANT_MAX_NEW_TOKENS
        from salam.models import resolve_chat_model

        consolidate = consolidator(resolve_chat_model(assistant, max_new_tokens=CHAT_ASSISTANT_MAX_NEW_TOKENS))
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        report = run_curation(mem, threshold, export, None, namespace, dry_run=True, guideline_threshold=guideline_threshold)
        if not dry_run and (report.merged or export.with_name(export.name + ".plan.json").exists()):
            confirm_removal(report.merged, yes)
            report = run_curation(mem, threshold, export, consolidate, namespace, guideline_threshold=guideline_threshold)
        if max_records is not None and not dry_run:
            over = sum(max(0, mem.count(ns) - max_records) for ns in ([namespace] if namespace else mem.namespaces()))
            if over:
                confirm_removal(over, yes)
                report.evicted, evicted_to = evict(mem, max_records, export, namespace)
                report.records_after = mem.count(namespace)
                typer.echo(f"evicted {report.evicted} records beyond {max_records} per namespace; export {evicted_to}", err=True)
    data = {k: v for k, v in vars(report).items()}
    if as_json:
        print_json(data)
        return
    sizes = ", ".join(f"{n} of size {size}" for size, n in sorted(report.sizes.items()))
    typer.echo(f"{'would merge' if dry_run else 'merged'} {report.merged} records into {report.clusters} clusters "
               f"({sizes or 'none'}): {report.records_before} -> {report.records_after} records"
               + (f"; export {report.export}" if report.export else "") + (" (finished a killed curation)" if report.resumed else "")
               + (f"; {report.flagged} near-duplicates flagged: their correct answer contradicts (memory list --flagged)"
                  if report.flagged else ""))
    for item in report.sample:
        typer.echo(f"  kept: {item['kept'][:100]}")
        for other in item["merged"]:
            typer.echo(f"    merged: {other[:100]}")


@app.command()
def delete(record_ids: list[str] = typer.Argument(..., help="Record ids."), memory: Optional[str] = MemoryOpt,
           chroma_url: Optional[str] = ChromaUrlOpt, embedder: Optional[str] = EmbedderOpt, yes: bool = YesOpt) -> None:
    """Delete records by id."""
    with open_memory(memory, chroma_url, embedder, create=False) as mem:
        confirm_removal(len(mem.get_many(record_ids)), yes)
        removed = mem.delete(record_ids)
    typer.echo(f"deleted {removed} of {len(record_ids)}")
