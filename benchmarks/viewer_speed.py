"""`salam view` server time: a run page with 1,000 samples, and memory search over 100k records.

Run: SALAM_DATA_DIR=... python benchmarks/viewer_speed.py [--samples-per-task 250] [--records 100000]

The run is a real `run_benchmark` folder (BBQ, 4 categories x 250 test questions, `none` + the
self-correction log, a scripted model so it takes seconds). The memory holds real BBQ/BBH question
texts with MiniLM vectors (the first 3,000 embedded, the rest real + noise, as retrieval_recall.py).
Times are the server's (Starlette's test client calls the app in-process, no network), 20 requests
each after one warm-up: the first memory page also counts the records once (cached afterwards).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(client, url: str, n: int = 20) -> tuple[float, float, int]:
    client.get(url)
    times = []
    for _ in range(n):
        began = time.perf_counter()
        response = client.get(url)
        times.append(1000 * (time.perf_counter() - began))
        assert response.status_code == 200, (url, response.status_code)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), len(response.text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples-per-task", type=int, default=250)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/viewer_speed.md"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from memory_store import corpus
    from retrieval_recall import TableEmbedder, vectors_for
    from starlette.testclient import TestClient

    from salam._util.quiet import quiet_libraries
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.memory import MistakeMemory
    from salam.testing import ScriptedChatModel
    from salam.types import MistakeRecord
    from salam.view.app import ViewConfig, create_app

    quiet_libraries()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        config = BenchConfig(benchmark="bbq", limit=args.samples_per_task, conditions=["none"], answer_mode="generate",
                             batch_size=64, self_correct=True)
        run_benchmark(config, runs / "big", model=ScriptedChatModel(replies=["A)", "B)", "C)"]), assistant_model=ScriptedChatModel())
        texts = corpus(args.records)
        vectors = vectors_for(texts + ["query"], 3000)
        embedder = TableEmbedder(dict(zip(texts + ["Who was acting recklessly?"], vectors)), "bench-table", vectors.shape[1])
        memory = Path(tmp) / "memory"
        with MistakeMemory.open(memory, embedder=embedder) as mem:
            mem.add([MistakeRecord(task=f"t{i % 20}", question=t, wrong_answer="A", true_answer="B", guideline=f"guideline {i}")
                     for i, t in enumerate(texts)])
        import salam.memory.chroma as chroma

        chroma.get_embedder = lambda name=None: embedder  # the stored embedder is the benchmark's table: serve it
        client = TestClient(create_app(ViewConfig(logs=runs, memory=str(memory))), base_url="http://127.0.0.1")
        n_samples = 2 * 4 * args.samples_per_task
        for label, url in [
            (f"run page ({n_samples} sample rows: `none` + self-correction)", "/runs/big"),
            ("run page, flipped filter", "/runs/big?flipped=1"),
            (f"memory: semantic search, {args.records} records", "/memory?q=Who+was+acting+recklessly%3F&mode=semantic&ns=default"),
            (f"memory: full-text search, {args.records} records", "/memory?q=grandfather&ns=default"),
            (f"memory: first page of all {args.records} records", "/memory?ns=default"),
        ]:
            p50, p99, size = timed(client, url)
            rows.append(f"| {label} | {p50:.0f} | {p99:.0f} | {size // 1024} |")
            print(rows[-1], flush=True)
    lines = ["# `salam view` server time", "",
             f"Command: `python benchmarks/viewer_speed.py --samples-per-task {args.samples_per_task} --records {args.records}` · "
             f"{platform.machine()}, 2 cores · in-process test client, 20 requests after a warm-up", "",
             "| page | p50 ms | p99 ms | page KB |", "|---|---|---|---|", *rows, "",
             "Targets (issue #16): a run page with 1,000 samples under 1 s; memory search over 100k records under 100 ms."]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
