"""Mistake memory at 1k, 10k and 100k records: ingest rate and `similar` latency, against the reference
code's approach of re-embedding the whole memory for every query.

Run: SALAM_DATA_DIR=... python benchmarks/memory_store.py [--sizes 1000,10000,100000] [--queries 200]

Records are real BBQ and BBH questions (repeated with a numbered variant suffix past the ~16k distinct
ones). The embedder is the bundled all-MiniLM-L6-v2 on CPU. Store overhead = time in Chroma, measured
by ingesting the same records with their embeddings precomputed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def corpus(n: int) -> list[str]:
    from salam.data.bbh import BBH_TASKS, load_bbh
    from salam.data.bbq import available_bbq_categories, load_bbq

    texts = [q.render() for qs in load_bbq(available_bbq_categories()).values() for q in qs]
    from salam.data.bbh import available_bbh_tasks

    texts += [q.render() for qs in load_bbh(available_bbh_tasks(BBH_TASKS)).values() for q in qs]
    texts = list(dict.fromkeys(texts))
    out = []
    i = 0
    while len(out) < n:
        base = texts[i % len(texts)]
        out.append(base if i < len(texts) else f"{base} (variant {i // len(texts)})")
        i += 1
    return out


class Precomputed:
    """Serves embeddings computed beforehand, so a timed ingest measures only the store."""

    def __init__(self, inner, table: dict[str, np.ndarray]) -> None:
        self.inner, self.table, self.name, self.dim = inner, table, inner.name, inner.dim

    def embed(self, texts):
        return np.stack([self.table[t] for t in texts])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--naive-max", type=int, default=1000, help="largest size for the re-embed-everything baseline")
    parser.add_argument("--embed-max", type=int, default=3000,
                        help="embed at most this many texts for real; past it, vectors are real ones plus small noise "
                             "and the embedding time is extrapolated from the measured rate (marked in the table)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory_store.md"))
    args = parser.parse_args()

    from salam._util.quiet import quiet_libraries
    from salam.memory import MistakeMemory
    from salam.memory.embeddings import get_embedder
    from salam.types import MistakeRecord

    quiet_libraries()
    embedder = get_embedder()
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = corpus(max(sizes))
    queries = corpus(max(sizes) + args.queries)[-args.queries:]  # texts not in the store
    queries = [q.replace("(variant", "(query") for q in queries]
    embedder.embed(["warm up"])
    rows = []
    table: dict[str, np.ndarray] = {}
    for size in sizes:
        subset = texts[:size]
        real = [t for t in subset[: args.embed_max] if t not in table]
        t = time.perf_counter()
        for start in range(0, len(real), 256):
            chunk = real[start : start + 256]
            for text, vec in zip(chunk, embedder.embed(chunk)):
                table[text] = vec
        if real:
            rate = len(real) / (time.perf_counter() - t)  # texts per second, measured
        rng = np.random.default_rng(size)
        pool = [table[x] for x in subset[: args.embed_max]]
        for i, text in enumerate(subset):
            if text not in table:
                vec = pool[i % len(pool)] + rng.normal(0, 0.02, pool[0].shape).astype(np.float32)
                table[text] = vec / np.linalg.norm(vec)
        embed_s_total = size / rate
        extrapolated = size > args.embed_max
        records = [MistakeRecord(question=q, wrong_answer="A", true_answer="B", guideline="g") for q in subset]
        folder = Path(tempfile.mkdtemp(prefix="salam-bench-"))
        try:
            with MistakeMemory.open(folder / "m", embedder=Precomputed(embedder, table)) as mem:
                t = time.perf_counter()
                mem.add(records)
                store_s = time.perf_counter() - t
            with MistakeMemory.open(folder / "m", embedder=embedder) as mem:
                mem.similar(queries[0], k=3)
                embed_lat = []
                for q in queries:
                    t = time.perf_counter()
                    embedder.embed([q])
                    embed_lat.append(time.perf_counter() - t)
                mem.queries.clear()  # cold: every timed `similar` embeds its query
                lat = []
                for q in queries:
                    t = time.perf_counter()
                    mem.similar(q, k=3, threshold=0.0)
                    lat.append(time.perf_counter() - t)
                # The store's part alone: query vectors already cached, so `similar` only searches.
                search_lat = []
                for q in queries:
                    t = time.perf_counter()
                    mem.similar(q, k=3, threshold=0.0)
                    search_lat.append(time.perf_counter() - t)
            disk_mb = sum(p.stat().st_size for p in (folder / "m").rglob("*") if p.is_file()) / 1e6
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        naive = None
        if size <= args.naive_max:
            n_naive = 3 if size > 2000 else 10
            lat_naive = []
            for q in queries[:n_naive]:
                t = time.perf_counter()
                matrix = np.concatenate([embedder.embed(subset[i : i + 256]) for i in range(0, size, 256)])
                scores = matrix @ embedder.embed([q])[0]
                np.argsort(-scores)[:3]
                lat_naive.append(time.perf_counter() - t)
            naive = float(np.median(lat_naive))
        lat_ms = np.array(lat) * 1000
        rows.append({"size": size, "embed_s": embed_s_total, "store_s": store_s, "p50": float(np.percentile(lat_ms, 50)),
                     "p99": float(np.percentile(lat_ms, 99)), "naive_s": naive, "disk_mb": disk_mb,
                     "embed_p50": float(np.percentile(np.array(embed_lat) * 1000, 50)),
                     "embed_p99": float(np.percentile(np.array(embed_lat) * 1000, 99)),
                     "search_p50": float(np.percentile(np.array(search_lat) * 1000, 50)),
                     "search_p99": float(np.percentile(np.array(search_lat) * 1000, 99)), "extrapolated": extrapolated})
        print(rows[-1], flush=True)

    import torch

    lines = [
        "# Mistake memory: ingest and retrieval", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/memory_store.py --sizes {args.sizes} --queries {args.queries} --embed-max {args.embed_max} --naive-max {args.naive_max}`", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}. Embedder: bundled all-MiniLM-L6-v2 (384 d, CPU). Store: embedded Chroma "
        "(PersistentClient, HNSW, cosine). Records: real BBQ/BBH questions with options (numbered variants past the distinct ones).",
        f"`similar` = embed the query + HNSW search (k=3), {args.queries} queries that are not in the store. "
        "Reference approach = what the SALAM reference code does per query: embed every stored question, then cosine.", "",
        f"Past {args.embed_max:,} records the vectors are real embeddings plus small noise and 'embed all s' is extrapolated "
        "from the measured embedding rate (marked *), since embedding 100k long questions on 2 cores takes about half an hour.", "",
        "| records | embed all s | store ingest s | store overhead vs embedding | ingest records/s (embed + store) | `similar` p50 ms "
        "| `similar` p99 ms | query embedding alone p50 / p99 ms | search alone (query vector cached) p50 / p99 ms "
        "| re-embed-all per query s | disk MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        naive = f"{r['naive_s']:.2f}" if r["naive_s"] is not None else "not run (grows linearly: minutes per query)"
        lines.append(f"| {r['size']:,} | {r['embed_s']:.1f}{'*' if r['extrapolated'] else ''} | {r['store_s']:.1f} | {100 * r['store_s'] / r['embed_s']:.0f}% | "
                     f"{r['size'] / (r['embed_s'] + r['store_s']):.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['embed_p50']:.1f} / {r['embed_p99']:.1f} | "
                     f"{r['search_p50']:.1f} / {r['search_p99']:.1f} | {naive} | {r['disk_mb']:.0f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
