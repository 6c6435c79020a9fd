"""Query embedding on CPU: float32 vs bfloat16 vs int8, latency and agreement with float32.

Run: SALAM_DATA_DIR=... python benchmarks/embedder_precision.py [--queries 200]

The query embedding is most of a `similar` call's time. This measures one-question latency of the
bundled all-MiniLM-L6-v2 on real BBQ/BBH questions at each precision, and how far each precision's
similarities move from float32 (max |Δ cosine| and top-3 overlap when float32 vectors are the store).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/embedder_precision.md"))
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from salam._util.quiet import quiet_libraries
    from salam.data.bbh import PAPER_MC_TASKS, load_bbh
    from salam.data.bbq import available_bbq_categories, load_bbq
    from salam.memory.embeddings import bundled_minilm_path

    quiet_libraries()
    texts = [q.render() for qs in load_bbq(available_bbq_categories()).values() for q in qs[:60]]
    texts += [q.render() for qs in load_bbh(list(PAPER_MC_TASKS)[:6]).values() for q in qs[:30]]
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))][: args.queries]
    path = str(bundled_minilm_path())
    variants = {"float32": SentenceTransformer(path, device="cpu"),
                "bfloat16": SentenceTransformer(path, device="cpu").to(torch.bfloat16)}
    int8 = SentenceTransformer(path, device="cpu")
    int8[0].model = torch.ao.quantization.quantize_dynamic(int8[0].model, {torch.nn.Linear}, dtype=torch.qint8)
    variants["int8 (dynamic)"] = int8
    tokens = [len(variants["float32"].tokenizer(t)["input_ids"]) for t in texts]

    def encode(model, batch: list[str]) -> np.ndarray:
        return np.asarray(model.encode(batch, normalize_embeddings=True, show_progress_bar=False,
                                       convert_to_numpy=True), dtype=np.float32)

    rows = []
    reference = encode(variants["float32"], texts)
    store_sims = reference @ reference.T
    np.fill_diagonal(store_sims, -1)
    for name, model in variants.items():
        encode(model, texts[:8])  # warm up
        latencies = []
        for text in texts:
            began = time.perf_counter()
            encode(model, [text])
            latencies.append(1000 * (time.perf_counter() - began))
        vectors = encode(model, texts)
        sims = vectors @ reference.T
        np.fill_diagonal(sims, -1)
        overlap = np.mean([len(set(np.argsort(-a)[:3]) & set(np.argsort(-b)[:3])) / 3 for a, b in zip(sims, store_sims)])
        rows.append((name, np.percentile(latencies, 50), np.percentile(latencies, 99), float(np.abs(sims - store_sims).max()), overlap))

    lines = [
        "# Query embedding precision on CPU", "",
        f"Command: `SALAM_DATA_DIR=../shared/data python benchmarks/embedder_precision.py --queries {args.queries}`", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}. Bundled all-MiniLM-L6-v2; {len(texts)} real BBQ/BBH questions with options, "
        f"{np.mean(tokens):.0f} tokens on average (max {max(tokens)}), embedded one at a time as `similar` does.", "",
        "| precision | p50 ms | p99 ms | max \\|Δ cosine\\| vs float32 | top-3 overlap vs float32 |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {p50:.1f} | {p99:.1f} | {d:.4f} | {o:.3f} |" for n, p50, p99, d, o in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
