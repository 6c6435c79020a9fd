"""Curation: near-duplicate records of one namespace and task merged into one, with nothing lost.

The paper's BBQ memory is full of template twins (the same story with other names) whose guidelines say the
same thing, so a top-3 retrieval often returns one lesson three times. A cluster is a record and every
record of its namespace, kind and task within ``threshold`` cosine of it, the best one first (most evidence
of help, then most used, then newest): leader clustering, so every member is near the record it merges into
and a chain of small steps never joins two different lessons. The merged record keeps the best member's
question and id, the summed counters of all members, their ids (``merged_ids``), and either the best
member's guideline or one the study assistant consolidated, passed through the leakage guard.

Safe against a kill: the export of every record a curation changes is written first (``salam memory
import`` of it restores the removed ones), then a plan beside it, then each merge, which sets absolute
values from the export and so can be applied twice. Running the same command again finishes an unfinished
plan instead of planning anew.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from salam._util.jsonl import write_json_atomic, write_text_atomic
from salam.errors import StoreError
from salam.memory.usefulness import usefulness
from salam.types import MistakeRecord

DEFAULT_CURATE_THRESHOLD = 0.95
"""Least cosine (all-MiniLM-L6-v2) between a record and the cluster's best one: BBQ template twins score
above it, two different templates of one category below (ACE de-duplicates at 0.9 with its own embedder)."""

Consolidate = Callable[[list[MistakeRecord]], str | None]
"""members (best first) -> one guideline for all of them, or None (keep the best member's)."""


def check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, (int, float)) and 0.0 < float(threshold) <= 1.0):
        raise StoreError(f"--threshold must be in (0, 1], not {threshold!r}")


def check_capacity(max_records: int | None) -> None:
    if max_records is not None and (isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1):
        raise StoreError(f"--max-records must be a whole number of at least 1, not {max_records!r}")


@dataclass
class CurationReport:
    """What a curation did (or, in a dry run, would do): the counts the CLI prints and the benchmark records."""

    records_before: int = 0
    records_after: int = 0
    clusters: int = 0
    merged: int = 0
    """Records removed into a cluster's kept record."""
    consolidated: int = 0
    """Clusters whose guideline the assistant rewrote."""
    kept_best: int = 0
    """Clusters where the assistant's guideline was empty or leaked the answer: the best member's was kept."""
    flagged: int = 0
    """Near-duplicates whose correct answer differs from their cluster's: flagged, not merged."""
    evicted: int = 0
    sizes: dict[int, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    export: str | None = None
    resumed: bool = False


def _rank_key(record: MistakeRecord) -> tuple:
    return (-usefulness(record), -record.retrieved, -record.created_at.timestamp(), record.id)


def leader_clusters(records: Sequence[MistakeRecord], vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Clusters (index lists, the leader first) of records within ``threshold`` cosine of their leader.

    Neighbours are found with chunked matrix products (numpy; 10k records per task take seconds), then the
    best unassigned record becomes a leader and takes its unassigned neighbours.
    """
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    neighbours: list[np.ndarray] = []
    for start in range(0, len(unit), 2048):
        sims = unit[start : start + 2048] @ unit.T
        neighbours += [np.nonzero(row >= threshold)[0] for row in sims]
    order = sorted(range(len(records)), key=lambda i: _rank_key(records[i]))
    assigned = np.zeros(len(records), dtype=bool)
    clusters = []
    for i in order:
        if assigned[i]:
            continue
        members = [i] + [int(j) for j in neighbours[i] if j != i and not assigned[j]]
        members = [members[0]] + sorted(members[1:], key=lambda j: _rank_key(records[j]))
        assigned[members] = True
        clusters.append(members)
    return clusters


def answer_of(record: MistakeRecord) -> str:
    """The stored correct answer as text (an option letter becomes its option), normalised for comparison."""
    answer = record.true_answer.strip().strip("()").strip()
    letters = [chr(ord("A") + i) for i in range(len(record.options))]
    if answer.upper() in letters:
        answer = record.options[letters.index(answer.upper())]
    return " ".join(answer.lower().split()).strip(".")


def split_contradictions(cluster: list[MistakeRecord]) -> tuple[list[MistakeRecord], list[MistakeRecord]]:
    """(members whose correct answer is the best member's, the others): the others are flagged, never merged."""
    answer = answer_of(cluster[0])
    same = [m for m in cluster if answer_of(m) == answer]
    return same, [m for m in cluster if answer_of(m) != answer]


def merged_record(members: Sequence[MistakeRecord], guideline: str | None = None) -> MistakeRecord:
    """The first (best) member with every member's counters summed and their ids kept."""
    best = members[0]
    ids = sorted({*best.merged_ids, *(i for m in members[1:] for i in (m.id, *m.merged_ids))} - {best.id})
    return best.model_copy(update={
        "helped": sum(m.helped for m in members), "hurt": sum(m.hurt for m in members),
        "retrieved": sum(m.retrieved for m in members), "merged_ids": ids,
        "guideline": guideline if guideline else best.guideline,
    })


def plan(memory: Any, threshold: float, namespace: str | None = None) -> tuple[list[list[MistakeRecord]], list[MistakeRecord]]:
    """Every cluster of two or more records with one correct answer, per namespace, kind and task, from the stored
    vectors; and the near-duplicates whose correct answer differs from their cluster's (to flag)."""
    from salam.memory.codec import from_chroma

    check_threshold(threshold)
    out: list[list[MistakeRecord]] = []
    flagged: list[MistakeRecord] = []
    for _, _, col in memory.backend.collections(namespace or None, None):
        by_task: dict[str, tuple[list[MistakeRecord], list[Any]]] = {}
        for got in memory.backend.pages(col, ["documents", "metadatas", "embeddings"], size=5000):
            for rid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                records, vectors = by_task.setdefault(meta.get("task", "default"), ([], []))
                records.append(from_chroma(rid, doc, meta))
                vectors.append(vec)
        for records, vectors in by_task.values():
            if len(records) > 1:
                for c in leader_clusters(records, np.asarray(vectors, dtype=np.float32), threshold):
                    if len(c) < 2:
                        continue
                    same, other = split_contradictions([records[i] for i in c])
                    flagged += [m.model_copy(update={"flagged": f"differs from {same[0].id}"}) for m in other
                                if m.flagged != f"differs from {same[0].id}"]
                    if len(same) > 1:
                        out.append(same)
    return out, flagged


def _plan_path(export: Path) -> Path:
    return export.with_name(export.name + ".plan.json")


def curate(memory: Any, threshold: float = DEFAULT_CURATE_THRESHOLD, export: Path | None = None,
           consolidate: Consolidate | None = None, namespace: str | None = None, dry_run: bool = False) -> CurationReport:
    """Merge near-duplicates (see the module). ``export`` is required unless ``dry_run``; an unfinished plan
    beside it is finished first."""
    check_threshold(threshold)
    report = CurationReport(records_before=memory.count(namespace))
    pending = _pending(export)
    if pending is not None and not dry_run:
        clusters, guidelines = pending
        report.resumed = True
        flagged: list[MistakeRecord] = []
    else:
        clusters, flagged = plan(memory, threshold, namespace)
        guidelines = None
    report.flagged = len(flagged)
    report.clusters = len(clusters)
    report.merged = sum(len(c) - 1 for c in clusters)
    for c in clusters:
        report.sizes[len(c)] = report.sizes.get(len(c), 0) + 1
    report.sample = [{"kept": c[0].question[:160], "merged": [m.question[:160] for m in c[1:3]], "size": len(c)}
                     for c in sorted(clusters, key=len, reverse=True)[:3]]
    if dry_run:
        report.records_after = report.records_before - report.merged
        return report
    if export is None:
        raise StoreError("curation needs --export FILE: the records it changes are written there first")
    if guidelines is None:
        guidelines = _consolidated(clusters, consolidate, report)
        _write_plan(export, clusters, guidelines)
    memory.rewrite(flagged)  # flags only: nothing is removed or merged for them
    # Absolute values from the export, in batches: applying a batch twice (after a kill) changes nothing.
    for start in range(0, len(clusters), 2000):
        part = list(zip(clusters, guidelines))[start : start + 2000]
        memory.rewrite([merged_record(members, guideline) for members, guideline in part])
        memory.delete([m.id for members, _ in part for m in members[1:]])
    plan_file = _plan_path(export)
    write_json_atomic(plan_file, {**json.loads(plan_file.read_text()), "done": True})
    report.export = str(export)
    report.records_after = memory.count(namespace)
    return report


def _consolidated(clusters: list[list[MistakeRecord]], consolidate: Consolidate | None, report: CurationReport) -> list[str | None]:
    """The assistant's guideline per cluster where it gave a safe one; None keeps the best member's."""
    from salam.assistant.leakage import find_leak, record_question

    out: list[str | None] = []
    for members in clusters:
        text = consolidate(members) if consolidate else None
        if text is None and consolidate is None:
            out.append(None)
            continue
        if not text or not text.strip() or any(find_leak(text, record_question(m)) for m in members):
            report.kept_best += 1
            out.append(None)
        else:
            report.consolidated += 1
            out.append(text.strip())
    return out


def _write_plan(export: Path, clusters: list[list[MistakeRecord]], guidelines: list[str | None]) -> None:
    """The export (every member as it is now: importable) first, then the plan that names the merges."""
    if export.exists() or _plan_path(export).exists():
        raise StoreError(f"{export} exists: choose another --export (a finished curation's export is kept)")
    export.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(export, "".join(m.model_dump_json() + "\n" for c in clusters for m in c))
    write_json_atomic(_plan_path(export), {"clusters": [[m.id for m in c] for c in clusters], "guidelines": guidelines,
                                           "done": False})


def _pending(export: Path | None) -> tuple[list[list[MistakeRecord]], list[str | None]] | None:
    """An unfinished plan beside ``export``: its clusters rebuilt from the export, and its guidelines."""
    if export is None or not _plan_path(export).is_file():
        return None
    try:
        saved = json.loads(_plan_path(export).read_text())
        by_id = {r.id: r for r in (MistakeRecord.model_validate_json(line) for line in export.read_text().splitlines() if line)}
        clusters = [[by_id[i] for i in ids] for ids in saved["clusters"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{_plan_path(export)} or {export} is unreadable ({type(exc).__name__}): "
                         "choose another --export") from None
    if saved.get("done"):
        raise StoreError(f"{export} holds a finished curation: choose another --export")
    return clusters, list(saved["guidelines"])


def _eviction_key(record: MistakeRecord) -> tuple:
    """Least useful first, then least recently used (never used: by age), then oldest."""
    used = record.last_retrieved or record.created_at
    return (usefulness(record), used.timestamp(), record.created_at.timestamp(), record.id)


def evict(memory: Any, max_records: int, export: Path, namespace: str | None = None) -> tuple[int, Path | None]:
    """Keep at most ``max_records`` per namespace, evicting the least useful, least recently used; the evicted
    records are written to an export beside ``export`` first (``memory import`` restores them)."""
    import time

    check_capacity(max_records)
    doomed: list[MistakeRecord] = []
    for ns in [namespace] if namespace else memory.namespaces():
        records = list(memory.iter_records(namespace=ns))
        if len(records) > max_records:
            doomed += sorted(records, key=_eviction_key)[: len(records) - max_records]
    if not doomed:
        return 0, None
    path = export.with_name(f"{export.stem}.evicted-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "".join(r.model_dump_json() + "\n" for r in doomed))
    memory.delete([r.id for r in doomed])
    return len(doomed), path
