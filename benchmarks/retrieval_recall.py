"""Recall@k of the memory's `similar` against an exact scan, unfiltered and with a task filter.

Run: SALAM_DATA_DIR=... python benchmarks/retrieval_recall.py [--sizes 10000,100000] [--queries 200]

Records are real BBQ/BBH question texts embedded with the bundled MiniLM (the first --embed-max of
them; past that, real vectors plus small noise, as in memory_store.py). Tasks are assigned so that
one task holds 0.1%, one 1% and one 10% of the records. For each query the truth is the exact top-k
by cosine over the records the filter allows. Two searches are measured on the same store:
`chroma-hnsw`, Chroma's approximate index (what `similar` used before), and `similar`, what salam
does now (an exact in-memory scan up to salam.memory.search.EXACT_MAX records). Both back ends: an
embedded folder and a `chroma run` server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

FILTERS = {"none": None, "0.1%": "t01", "1%": "t1", "10%": "t10"}


def task_of(i: int) -> str:
    return "t01" if i % 1000 == 0 else "t1" if i % 100 == 1 else "t10" if i % 10 == 2 else "rest"


class TableEmbedder:
    """Serves precomputed vectors by text, so the benchmark measures search, not embedding."""

    def __init__(self, table: dict[str, np.ndarray], name: str, dim: int) -> None:
        self.table, self.name, self.dim = table, name, dim

    def embed(self, texts):
        return np.stack([self.table[t] for t in texts])


def vectors_for(texts: list[str], embed_max: int, seed: int = 0) -> np.ndarray:
    from salam.memory.embeddings import get_embedder

    embedder = get_embedder()
    real = embedder.embed(texts[:embed_max])
    rng = np.random.default_rng(seed)
    rest = real[np.arange(len(texts) - len(real)) % len(real)] + rng.normal(scale=0.03, size=(len(texts) - len(real), real.shape[1]))
    out = np.concatenate([real, rest]).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def start_server(folder: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([shutil.which("chroma") or "chroma", "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("chroma server did not start")


def measure(mem, texts, vectors, queries, qvecs, k: int) -> list[tuple[str, str, float, float, float]]:
    """(filter, search, recall@k, p50 ms, p99 ms) rows."""
    tasks = np.asarray([task_of(i) for i in range(len(texts))])
    ids = {t: i for i, t in enumerate(texts)}
    col = mem.backend.collection("default", "mistake", create=False)
    rows = []
    for label, task in FILTERS.items():
        allowed = np.arange(len(texts)) if task is None else np.flatnonzero(tasks == task)
        truth = [set(allowed[np.argsort(-(vectors[allowed] @ q))[:k]].tolist()) for q in qvecs]
        where = {"task": task} if task else None
        hnsw, hnsw_times = [], []
        for qvec in qvecs:  # one query at a time, as `similar` is timed below
            t = time.perf_counter()
            hnsw += mem.backend.query(col, qvec[None, :], k, where)
            hnsw_times.append(1000 * (time.perf_counter() - t))
        recall = np.mean([len({ids[doc] for _, doc, _, _ in got} & want) / len(want) for got, want in zip(hnsw, truth)])
        rows.append((label, "chroma-hnsw", float(recall), float(np.percentile(hnsw_times, 50)), float(np.percentile(hnsw_times, 99))))
        times, found = [], []
        mem.similar_many(queries[:2], k, -1.0, task=task, allow_self=True)  # load the index once, untimed
        for q in queries:
            t = time.perf_counter()
            found.append(mem.similar(q, k, -1.0, task=task, allow_self=True))
            times.append(1000 * (time.perf_counter() - t))
        recall = np.mean([len({ids[h.record.question] for h in got} & want) / len(want) for got, want in zip(found, truth)])
        rows.append((label, "similar", float(recall), float(np.percentile(times, 50)), float(np.percentile(times, 99))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--embed-max", type=int, default=3000)
    parser.add_argument("--backends", default="embedded,server")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/retrieval_recall.md"))
    args = parser.parse_args()

    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from memory_store import corpus

    from salam._util.quiet import quiet_libraries
    from salam.memory import MistakeMemory
    from salam.types import MistakeRecord

    quiet_libraries()
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = corpus(max(sizes))
    queries = [q.replace("(variant", "(query") for q in corpus(max(sizes) + args.queries)[-args.queries:]]
    all_vectors = vectors_for(texts + queries, args.embed_max)
    vectors, qvecs = all_vectors[: len(texts)], all_vectors[len(texts):]
    table = dict(zip(texts + queries, all_vectors))
    embedder = TableEmbedder(table, "bench-table", vectors.shape[1])
    lines = ["# Retrieval recall: `similar` vs an exact scan", "",
             f"Command: `python benchmarks/retrieval_recall.py --sizes {args.sizes} --queries {args.queries}` · "
             f"machine: {platform.machine()}, {__import__('os').cpu_count()} cores · k={args.k} · "
             f"vectors: MiniLM embeddings of real BBQ/BBH questions (first {args.embed_max}), the rest real + noise", "",
             "| backend | records | filter (share of records) | search | recall@k | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for backend in args.backends.split(","):
        for size in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                proc = None
                if backend == "server":
                    proc, url = start_server(Path(tmp) / "server")
                    mem = MistakeMemory.open(url=url, embedder=embedder)
                else:
                    mem = MistakeMemory.open(Path(tmp) / "mem", embedder=embedder)
                try:
                    mem.add([MistakeRecord(task=task_of(i), question=t, wrong_answer="A", true_answer="B") for i, t in enumerate(texts[:size])])
                    for row in measure(mem, texts[:size], vectors[:size], queries, qvecs, args.k):
                        label, search, recall, p50, p99 = row
                        cell = lambda v: "—" if v != v else f"{v:.1f}"  # noqa: E731
                        lines.append(f"| {backend} | {size} | {label} | {search} | {recall:.3f} | {cell(p50)} | {cell(p99)} |")
                        print(lines[-1], flush=True)
                finally:
                    mem.close()
                    if proc:
                        proc.terminate()
                        proc.wait(timeout=30)
    lines += ["", "`similar` p50/p99 include the query's embedding lookup (a table here), the exact scan and the k",
              "records (from the in-memory index in an embedded folder this process holds; fetched from Chroma on a",
              "server, which other processes may write). `chroma-hnsw` is Chroma's approximate query with the",
              "records, one query at a time, for comparison (what `similar` used before)."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
