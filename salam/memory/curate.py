"""Curation: near-duplicate records of one namespace and task merged into one, with nothing lost.

The paper's BBQ memory is full of template twins (the same story with other names) whose guidelines say the
same thing, so a top-3 retrieval often returns one lesson three times. A cluster is a record and every
record of its namespace, kind and task within ``threshold`` cosine of it, the best one first (most evidence
of help, then most used, then newest): leader clustering, so every member is near the record it merges into
and a chain of small steps never joins two different lessons. The merged record keeps the best member's
question and id, the summed counters of all members, their ids (``merged_ids``), and either the best
member's guideline or one the study assistant consolidated, passed through the leakage guard.

Which near-duplicates merge depends on their correct answers, compared as text (BBQ's ten wordings of
"unknown" are one answer). The same answer: merged. Answers that contradict (other options of the same
question, or "unknown" against a named option): flagged, never merged. Answers that cannot be compared
(template twins that name other people, each answer one of its own question's options): merged only when
their guidelines say the same thing (cosine ≥ ``guideline_threshold``), else left as they are.

Safe against a kill: the export of every record a curation changes is written first (``salam memory
import`` of it restores the removed ones), then a plan beside it, then each merge, which sets absolute
values from the export and so can be applied twice. Running the same command again finishes an unfinished
plan instead of planning anew.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from salam._util.jsonl import write_json_atomic, write_text_atomic
from salam.data.bbq import UNKNOWN_ANSWERS
from salam.errors import StoreError
from salam.memory.usefulness import usefulness
from salam.types import MistakeRecord

DEFAULT_CURATE_THRESHOLD = 0.95
"""Least cosine (all-MiniLM-L6-v2) between a record and the cluster's best one: BBQ template twins score
above it, two different templates of one category below (ACE de-duplicates at 0.9 with its own embedder)."""
DEFAULT_GUIDELINE_THRESHOLD = 0.9
"""Least cosine between two guidelines that say the same thing (ACE's de-duplication cosine): it decides template
twins whose answers name other people."""
UNKNOWN = "<unknown>"

Consolidate = Callable[[list[MistakeRecord]], str | None]
"""members (best first) -> one guideline for all of them, or None (keep the best member's)."""


def check_threshold(threshold: float, option: str = "--threshold") -> None:
    if not (isinstance(threshold, (int, float)) and 0.0 < float(threshold) <= 1.0):
        raise StoreError(f"{option} must be in (0, 1], not {threshold!r}")


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
    """Near-duplicates whose correct answer contradicts their cluster's: flagged, not merged into it (one may lead
    a cluster of its own twins and carries its flag into that merge)."""
    evicted: int = 0
    sizes: dict[int, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    export: str | None = None
    resumed: bool = False


def _rank_key(record: MistakeRecord) -> tuple:
    return (-usefulness(record), -record.retrieved, -record.created_at.timestamp(), record.id)


def neighbour_lists(vectors: np.ndarray, threshold: float) -> list[np.ndarray]:
    """Each record's neighbours (itself included) within ``threshold`` cosine: chunked matrix products (numpy;
    10k records per task take seconds)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    neighbours: list[np.ndarray] = []
    for start in range(0, len(unit), 2048):
        sims = unit[start : start + 2048] @ unit.T
        neighbours += [np.nonzero(row >= threshold)[0] for row in sims]
    return neighbours


def leader_clusters(records: Sequence[MistakeRecord], neighbours: Sequence[np.ndarray],
                    joins: Callable[[int, int], bool] | None = None) -> list[list[int]]:
    """Clusters (index lists, the leader first): the best unassigned record becomes a leader and takes the
    unassigned neighbours that ``joins`` accepts (all, without it); a refused one stays free to lead its own."""
    order = sorted(range(len(records)), key=lambda i: _rank_key(records[i]))
    assigned = np.zeros(len(records), dtype=bool)
    clusters = []
    for i in order:
        if assigned[i]:
            continue
        members = [int(j) for j in neighbours[i] if j != i and not assigned[j] and (joins is None or joins(i, int(j)))]
        members = [i] + sorted(members, key=lambda j: _rank_key(records[j]))
        assigned[members] = True
        clusters.append(members)
    return clusters


def _normal(text: str) -> str:
    text = " ".join(text.lower().split()).strip(".")
    return UNKNOWN if text in UNKNOWN_ANSWERS else text


def answer_of(record: MistakeRecord) -> str:
    """The stored correct answer as text (an option letter becomes its option), normalised for comparison."""
    answer = record.true_answer.strip().strip("()").strip()
    letters = [chr(ord("A") + i) for i in range(len(record.options))]
    if answer.upper() in letters:
        answer = record.options[letters.index(answer.upper())]
    return _normal(answer)


def relation(best: MistakeRecord, other: MistakeRecord) -> str:
    """``same`` answer, ``contradicts`` (another answer to a comparable question) or ``unrelated`` (twins whose
    questions name other people, each answer a named option of its own question)."""
    a, b = answer_of(best), answer_of(other)
    if a == b:
        return "same"
    options_a, options_b = {_normal(o) for o in best.options}, {_normal(o) for o in other.options}
    if UNKNOWN in (a, b) or not options_a or not options_b or options_a == options_b or a in options_b or b in options_a:
        return "contradicts"
    return "unrelated"


class GuidelineJudge:
    """Whether two records' guidelines say the same thing: cosine ≥ ``threshold``; each guideline embedded once,
    in batches (:meth:`prime`)."""

    def __init__(self, embedder: Any, threshold: float) -> None:
        self.embedder, self.threshold, self.vectors = embedder, threshold, {}

    def prime(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t.strip() and t not in self.vectors))
        for start in range(0, len(todo), 256):
            chunk = todo[start : start + 256]
            got = np.asarray(self.embedder.embed(chunk), dtype=np.float32)
            got /= np.maximum(np.linalg.norm(got, axis=1, keepdims=True), 1e-12)
            self.vectors.update(zip(chunk, got))

    def __call__(self, a: MistakeRecord, b: MistakeRecord) -> bool:
        if not a.guideline.strip() or not b.guideline.strip():
            return False
        if a.guideline == b.guideline:
            return True
        self.prime([a.guideline, b.guideline])
        return float(self.vectors[a.guideline] @ self.vectors[b.guideline]) >= self.threshold


def merged_record(members: Sequence[MistakeRecord], guideline: str | None = None) -> MistakeRecord:
    """The first (best) member with every member's counters summed and their ids kept."""
    best = members[0]
    ids = sorted({*best.merged_ids, *(i for m in members[1:] for i in (m.id, *m.merged_ids))} - {best.id})
    return best.model_copy(update={
        "helped": sum(m.helped for m in members), "hurt": sum(m.hurt for m in members),
        "retrieved": sum(m.retrieved for m in members), "merged_ids": ids,
        "guideline": guideline if guideline else best.guideline,
    })


def records_by_task(memory: Any, namespace: str | None = None) -> Iterator[dict[str, tuple[list[MistakeRecord], list[Any]]]]:
    """Per collection (namespace and kind), its records and stored vectors grouped by task: the unit curation
    clusters in, read from the stored vectors so no embedding call is made."""
    from salam.memory.codec import from_chroma

    for _, _, col in memory.backend.collections(namespace or None, None):
        by_task: dict[str, tuple[list[MistakeRecord], list[Any]]] = {}
        for got in memory.backend.pages(col, ["documents", "metadatas", "embeddings"], size=5000):
            for rid, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"]):
                records, vectors = by_task.setdefault(meta.get("task", "default"), ([], []))
                records.append(from_chroma(rid, doc, meta))
                vectors.append(vec)
        yield by_task


def plan(memory: Any, threshold: float, namespace: str | None = None,
         guideline_threshold: float = DEFAULT_GUIDELINE_THRESHOLD) -> tuple[list[list[MistakeRecord]], list[MistakeRecord], int]:
    """Every cluster of two or more records to merge, per namespace, kind and task, from the stored vectors; the
    near-duplicates whose correct answer contradicts their cluster's, to flag, that lead no cluster; and how many
    cluster leaders carry a new flag into their merge."""
    check_threshold(threshold)
    check_threshold(guideline_threshold, "--guideline-threshold")
    same_lesson = GuidelineJudge(memory.embedder, guideline_threshold)
    out: list[list[MistakeRecord]] = []
    flagged: list[MistakeRecord] = []
    for by_task in records_by_task(memory, namespace):
        for records, vectors in by_task.values():
            if len(records) > 1:
                clusters, contradicted = task_clusters(records, np.asarray(vectors, dtype=np.float32), threshold, same_lesson)
                out += clusters
                flagged += [records[j].model_copy(update={"flagged": f"differs from {records[i].id}"})
                            for j, i in contradicted.items() if records[j].flagged != f"differs from {records[i].id}"]
    # A flagged record that leads a cluster carries its flag into the merge; one merged away needs none.
    flags = {r.id: r for r in flagged}
    leaders = sum(c[0].id in flags for c in out)
    out = [[flags.pop(c[0].id, c[0]), *c[1:]] for c in out]
    merged_away = {m.id for c in out for m in c[1:]}
    return out, [r for r in flags.values() if r.id not in merged_away], leaders


def task_clusters(records: list[MistakeRecord], vectors: np.ndarray, threshold: float, same_lesson: "GuidelineJudge",
                   ) -> tuple[list[list[MistakeRecord]], dict[int, int]]:
    """One task's clusters to merge (two or more members) and its contradicted records (index -> the leader whose
    answer they contradict)."""
    neighbours = neighbour_lists(vectors, threshold)
    unsure = {i for i, near in enumerate(neighbours) for j in near if relation(records[i], records[int(j)]) == "unrelated"}
    same_lesson.prime([records[i].guideline for i in sorted(unsure)])
    contradicted: dict[int, int] = {}

    def joins(leader: int, member: int) -> bool:
        kind = relation(records[leader], records[member])
        if kind == "contradicts":
            contradicted.setdefault(member, leader)
        return kind == "same" or (kind == "unrelated" and same_lesson(records[leader], records[member]))

    clusters = [[records[i] for i in c] for c in leader_clusters(records, neighbours, joins) if len(c) > 1]
    return clusters, contradicted


def _plan_path(export: Path) -> Path:
    return export.with_name(export.name + ".plan.json")


def curate(memory: Any, threshold: float = DEFAULT_CURATE_THRESHOLD, export: Path | None = None,
           consolidate: Consolidate | None = None, namespace: str | None = None, dry_run: bool = False,
           guideline_threshold: float = DEFAULT_GUIDELINE_THRESHOLD) -> CurationReport:
    """Merge near-duplicates (see the module). ``export`` is required unless ``dry_run``; an unfinished plan
    beside it is finished first."""
    check_threshold(threshold)
    report = CurationReport(records_before=memory.count(namespace))
    pending = _pending(export)
    if pending is not None and not dry_run:
        clusters, guidelines = pending
        report.resumed = True
        flagged: list[MistakeRecord] = []
        flagged_leaders = 0
    else:
        clusters, flagged, flagged_leaders = plan(memory, threshold, namespace, guideline_threshold)
        guidelines = None
    report.flagged = len(flagged) + flagged_leaders
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
