"""Does curation shrink the paper's memory without losing lessons? And how long does it take at 100k records?

Run: SALAM_DATA_DIR=../shared/data python benchmarks/curation.py [--out benchmarks/results/curation.md]
     [--synthetic 100000] [--downstream [--downstream-model SPEC ...]] [--raw DIR]

1. The SALAM paper's released memory (`salam memory import --salam`: Flan-T5 mistakes with GPT-4 feedback)
   in a fresh memory with the default embedder (all-MiniLM-L6-v2).
2. For the test questions of `salam bench` (seeded split, 40 per task, BBQ and BBH), the top 3 records of
   the question's own task (the bench's retrieval, no threshold): the share of questions whose three
   include two near-copies (cosine >= 0.95 between the retrieved records' questions), how many of those
   pairs contradict each other (another answer to a comparable question: flagged, kept on purpose), and
   the tasks they cover.
3. `salam memory curate` at its default threshold: records before and after, time; step 2 again, then once
   more with `--rank distinct` (the closest of each group of near-copies, the others skipped).
4. --synthetic N: N records (hash embedder, 20 tasks, template twins) curated without an assistant: time.
5. --downstream: `salam bench bbq --conditions none,feedback --no-gather` with the raw memory, the curated one,
   and the curated one with `--rank distinct`, on the embedded model (and each --downstream-model), McNemar of
   each feedback run against the raw memory's.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NEAR = 0.95


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "salam.cli.main", *args], check=True, stdout=subprocess.DEVNULL)


def test_questions() -> list:
    from salam.data.questions import load_benchmark
    from salam.data.split import side, split_benchmark

    out = []
    for bench in ("bbq", "bbh"):
        data, _ = load_benchmark(bench, [], None)
        out += side(split_benchmark(data, seed=0, limit=40), "test")
    return out


def retrieval(memory, questions, rank: str = "similarity") -> dict:
    """Near-copy share and task coverage of each question's top 3 in its own task."""
    from salam.memory.curate import relation

    hits = memory.similar_many([q.text for q in questions], k=3, threshold=0.0, task=[q.task for q in questions], rank=rank)
    with_copies, pairs, copies, contradicting, coverage = 0, 0, 0, 0, []
    for found in hits:
        coverage.append(frozenset(h.record.task for h in found))
        if len(found) < 2:
            continue
        vectors = np.asarray(memory.embedder.embed([h.record.question for h in found]), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        sims = vectors @ vectors.T
        near = [(i, j) for i in range(len(found)) for j in range(i + 1, len(found)) if sims[i, j] >= NEAR]
        pairs += len(found) * (len(found) - 1) // 2
        copies += len(near)
        contradicting += sum(relation(found[i].record, found[j].record) == "contradicts" for i, j in near)
        with_copies += bool(near)
    answered = sum(1 for f in hits if f)
    return {"questions": len(questions), "with_hits": answered, "with_near_copies": with_copies,
            "share": with_copies / max(1, answered), "pair_share": copies / max(1, pairs), "coverage": coverage,
            "contradicting": contradicting, "copies": copies}


def ceiling(memory, thresholds=(0.95, 0.9)) -> dict[float, int]:
    """Records left if every near-copy merged whatever its answer (leader clustering per task, no answer check):
    the most any curation at that cosine can remove."""
    from salam.memory.curate import leader_clusters, neighbour_lists, records_by_task

    groups = [group for by_task in records_by_task(memory) for group in by_task.values()]
    return {t: sum(len(leader_clusters(r, neighbour_lists(np.asarray(v, dtype=np.float32), t))) for r, v in groups)
            for t in thresholds}


def where(memory, threshold: float) -> list[str]:
    """Table rows: per benchmark and kind, the records, those curation merges away, those merging every near-copy
    would, and those flagged: where the near-copies are and what keeps them."""
    from salam.data.bbq import BBQ_CATEGORIES
    from salam.memory.curate import (DEFAULT_GUIDELINE_THRESHOLD, GuidelineJudge, leader_clusters, neighbour_lists,
                                     records_by_task, task_clusters)

    judge = GuidelineJudge(memory.embedder, DEFAULT_GUIDELINE_THRESHOLD)
    totals: dict[tuple[str, str], list[int]] = {}
    for by_task in records_by_task(memory):
        for task, (records, vectors) in by_task.items():
            unit = np.asarray(vectors, dtype=np.float32)
            clusters, contradicted = task_clusters(records, unit, threshold, judge)
            every = leader_clusters(records, neighbour_lists(unit, threshold))
            merged_away = {m.id for c in clusters for m in c[1:]}
            flagged = sum(records[j].id not in merged_away for j in contradicted)  # as curation flags them
            row = totals.setdefault(("BBQ" if task in BBQ_CATEGORIES else "BBH", records[0].kind), [0, 0, 0, 0])
            for i, n in enumerate((len(records), sum(len(c) - 1 for c in clusters), len(records) - len(every), flagged)):
                row[i] += n
    return [f"| {bench} | {kind} | {n} | {merged} ({100 * merged / n:.1f}%) | {most} ({100 * most / n:.1f}%) | {flagged} |"
            for (bench, kind), (n, merged, most, flagged) in sorted(totals.items())]


def synthetic(n: int, work: Path) -> dict:
    from salam.memory import MistakeMemory
    from salam.memory.curate import curate
    from salam.testing import HashEmbedder
    from salam.types import MistakeRecord

    rng = random.Random(0)
    names = [f"name{i}" for i in range(500)]
    words = [f"word{i}" for i in range(3000)]
    templates = [" ".join(rng.choice(words) for _ in range(24)) + " {a} and {b}. Who was it?" for _ in range(n // 40)]
    records = [MistakeRecord(task=f"task{t % 20}", question=tpl.format(a=rng.choice(names), b=rng.choice(names)),
                             true_answer="B", guideline=f"lesson {t}") for t, tpl in enumerate(templates) for _ in range(40)]
    with MistakeMemory.open(work / "synthetic", embedder=HashEmbedder(dim=256)) as memory:
        began = time.perf_counter()
        memory.add(records)
        added = time.perf_counter() - began
        began = time.perf_counter()
        report = curate(memory, 0.95, work / "synthetic-export.jsonl")
        return {"records": memory.count() + report.merged, "after": memory.count(), "add_s": added,
                "curate_s": time.perf_counter() - began, "clusters": report.clusters}


MEMORIES = (("raw", "raw", "similarity"), ("curated", "curated", "similarity"), ("curated, --rank distinct", "curated", "distinct"))
"""(name, memory folder, retrieval rank) of each downstream run."""


def downstream(work: Path, model: str, self_correct: bool = False, bench: str = "bbq") -> list[str]:
    """Table rows: the model's feedback-condition accuracy on ``bench`` with each memory (with ``self_correct``: its Acc@t2 under
    `--self-correct verify --self-correct-memory`, the guidelines in the verification and revision prompts), McNemar
    against the raw memory's."""
    import json

    from salam.stats import mcnemar

    how = (["--conditions", "none", "--self-correct", "verify", "--self-correct-memory"] if self_correct
           else ["--conditions", "none,feedback"])
    samples, correct_of = ("self_correct", lambda row: row["t2"]["correct"]) if self_correct else ("feedback", lambda row: row["correct"])
    out = {}
    from salam.defaults import retrieval_for

    for name, folder, rank in MEMORIES:
        if rank == "distinct" and retrieval_for(bench)[0] == 1:
            continue  # one memory per question (the paper's BBH k): nothing to de-duplicate, the same run as "curated"
        log = work / f"bench-{bench}-{''.join(c if c.isalnum() else '-' for c in model)}-{samples}-{len(out)}"
        began = time.perf_counter()
        cli("bench", bench, "--model", model, "--memory", str(work / folder), "--namespace", "default", "--no-gather",
            *how, "--rank", rank, "--log-dir", str(log), "--display", "none")
        rows = [json.loads(line) for line in (log / "samples" / f"{samples}.jsonl").read_text().splitlines()]
        out[name] = ({row["question_id"]: bool(correct_of(row)) for row in rows}, time.perf_counter() - began)
    raw = out["raw"][0]
    ids = sorted(raw)
    rows = []
    for name, (correct, seconds) in out.items():
        test = mcnemar([raw[i] for i in ids], [correct[i] for i in ids])
        versus = "—" if name == "raw" else f"{test['b']}/{test['c']}, p = {test['p_value']:.3f}"
        rows.append(f"| {bench.upper()} | `{model}` | {name} | {100 * sum(correct[i] for i in ids) / len(ids):.1f} | {versus} | {seconds:.0f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/curation.md")
    parser.add_argument("--synthetic", type=int, default=0)
    parser.add_argument("--downstream", action="store_true")
    parser.add_argument("--downstream-model", action="append", default=[], metavar="SPEC",
                        help="Another model for the downstream runs (repeatable), e.g. local+lora:runs/sft-bbq.")
    parser.add_argument("--downstream-bench", choices=("bbq", "bbh"), action="append", default=[],
                        help="Benchmark of the downstream runs (repeatable; default bbq: the README job's 160 questions).")
    parser.add_argument("--raw", type=Path, help="A memory the paper's release was already imported into (copied, never "
                        "changed): skips the ~3 min import.")
    args = parser.parse_args()
    from salam.memory import MistakeMemory
    from salam.memory.curate import DEFAULT_CURATE_THRESHOLD, DEFAULT_GUIDELINE_THRESHOLD, curate

    work = Path(tempfile.mkdtemp(prefix="salam-curation-"))
    raw, curated = work / "raw", work / "curated"
    began = time.perf_counter()
    if args.raw:
        subprocess.run(["cp", "-r", str(args.raw), str(raw)], check=True)
    else:
        cli("memory", "import", "--salam", str(Path(os.environ["SALAM_DATA_DIR"]) / "salam"), "--memory", str(raw))
    imported = time.perf_counter() - began
    questions = test_questions()
    with MistakeMemory.open(raw, create=False) as memory:
        before = retrieval(memory, questions)
        most = ceiling(memory)
        places = where(memory, DEFAULT_CURATE_THRESHOLD)
    subprocess.run(["cp", "-r", str(raw), str(curated)], check=True)
    with MistakeMemory.open(curated, create=False) as memory:
        began = time.perf_counter()
        report = curate(memory, DEFAULT_CURATE_THRESHOLD, work / "export.jsonl")
        seconds = time.perf_counter() - began
        after = retrieval(memory, questions)
        distinct = retrieval(memory, questions, rank="distinct")
    same_tasks = sum(a == b for a, b in zip(before["coverage"], after["coverage"]))
    same_distinct = sum(a == b for a, b in zip(before["coverage"], distinct["coverage"]))
    lines = [
        "# Curation of the paper's memory", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/curation.py{' --synthetic ' + str(args.synthetic) if args.synthetic else ''}"
        f"{' --downstream' if args.downstream else ''}{''.join(' --downstream-bench ' + b for b in args.downstream_bench)}"
        f"{''.join(' --downstream-model ' + m for m in args.downstream_model)}` · machine: {platform.machine()}, {os.cpu_count()} cores · "
        f"memory: the SALAM release imported with all-MiniLM-L6-v2 ({'copied from --raw' if args.raw else f'{imported:.0f} s'}) · threshold {DEFAULT_CURATE_THRESHOLD}, "
        f"guideline threshold {DEFAULT_GUIDELINE_THRESHOLD} · "
        f"questions: `salam bench`'s test split (seed 0, 40 per task) of BBQ and BBH, top 3 of their own task.", "",
        "| | records | questions with two near-copies in their top 3 | near-copy pairs among top-3 pairs | "
        "of those pairs, contradicting (flagged, kept) |", "|---|---|---|---|---|",
        f"| raw | {report.records_before} | {before['with_near_copies']}/{before['with_hits']} ({100 * before['share']:.1f}%) | "
        f"{100 * before['pair_share']:.1f}% | {before['contradicting']}/{before['copies']} |",
        f"| curated | {report.records_after} ({100 * (1 - report.records_after / report.records_before):.1f}% fewer) | "
        f"{after['with_near_copies']}/{after['with_hits']} ({100 * after['share']:.1f}%) | {100 * after['pair_share']:.1f}% | "
        f"{after['contradicting']}/{after['copies']} |",
        f"| curated, `--rank distinct` | {report.records_after} | {distinct['with_near_copies']}/{distinct['with_hits']} "
        f"({100 * distinct['share']:.1f}%) | {100 * distinct['pair_share']:.1f}% | {distinct['contradicting']}/{distinct['copies']} |", "",
        f"Curation: {report.clusters} clusters, {report.merged} records merged, {report.flagged} flagged (their answer "
        f"contradicts a near-copy's), {seconds:.1f} s. Cluster sizes: "
        + ", ".join(f"{n}×{size}" for size, n in sorted(report.sizes.items())) + ".",
        "If every near-copy merged whatever its answer (contradictions included, which curation refuses): "
        + ", ".join(f"{n} records at cosine {t} ({100 * (1 - n / report.records_before):.1f}% fewer)" for t, n in most.items())
        + ": the most a curation at that cosine could remove.",
        f"Tasks covered by each question's top 3: the same before and after for {same_tasks}/{len(questions)} questions "
        f"({same_distinct}/{len(questions)} with `--rank distinct`).", "",
        f"Where the near-copies are (cosine {DEFAULT_CURATE_THRESHOLD}, per task as curation clusters):", "",
        "| benchmark | kind | records | merged by curation | merged if every near-copy merged | flagged (contradicting) |",
        "|---|---|---|---|---|---|", *places,
    ]
    if args.synthetic:
        s = synthetic(args.synthetic, work)
        lines += ["", f"Synthetic: {s['records']} records (20 tasks, hash embedder, 256 dimensions) → {s['after']} after "
                  f"curation ({s['clusters']} clusters) in **{s['curate_s']:.0f} s** (adding them took {s['add_s']:.0f} s)."]
    if args.downstream:
        benches = args.downstream_bench or ["bbq"]
        lines += ["", f"Downstream: `salam bench {'|'.join(benches)} --no-gather --conditions none,feedback` (BBQ: the README "
                  "job's 160 test questions; BBH: the 14 of the paper's 16 tasks here, 20 test questions "
                  "each, one memory per question as the paper retrieves, so `--rank distinct` cannot differ and is not run) with each memory; McNemar "
                  "paired by question against the raw memory's feedback run.", "",
                  "| bench | model | memory | feedback accuracy % | vs raw (b/c, p) | bench s |", "|---|---|---|---|---|---|"]
        for bench in benches:
            for model in ["local", *args.downstream_model]:
                lines += downstream(work, model, bench=bench)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
