"""A benchmark's questions by task, with the checksum of every file read (for the manifest)."""

from __future__ import annotations

from pathlib import Path

from salam.errors import SalamError
from salam.types import Question

BENCHMARKS = ("bbq", "bbh")


def load_benchmark(benchmark: str, tasks: list[str] | None = None, data_dir: str | Path | None = None,
                   ) -> tuple[dict[str, list[Question]], dict[str, str]]:
    """Questions per task (all available ones when ``tasks`` is empty) and the sha256 of each data file."""
    from salam.data.files import locate, sha256_file

    if benchmark == "bbq":
        from salam.data.bbq import available_bbq_categories, load_bbq

        data = load_bbq(tasks or available_bbq_categories(data_dir), data_dir)
    elif benchmark == "bbh":
        from salam.data.bbh import (
            PAPER_MC_TASKS,
            SUBSETS,
            available_bbh_tasks,
            load_bbh,
        )

        names: list[str] = []
        for t in tasks or ["paper"]:
            names += available_bbh_tasks(SUBSETS[t], data_dir) if t in SUBSETS else [t]
        if not names:
            raise SalamError(f"none of the BBH tasks {', '.join(PAPER_MC_TASKS)} found; set --data-dir")
        data = load_bbh(list(dict.fromkeys(names)), data_dir)
    else:
        raise SalamError(f"unknown benchmark {benchmark!r}: {' or '.join(BENCHMARKS)}")
    suffix = ".jsonl" if benchmark == "bbq" else ".json"
    checksums = {f"{benchmark}/{t}{suffix}": sha256_file(locate(benchmark, t, data_dir, download=False)) for t in data}
    return data, checksums


def benchmark_side(benchmark: str, side: str, *, tasks: list[str] | None = None, data_dir: str | Path | None = None,
                   limit: int | None = None, seed: int = 0, train_fraction: float = 0.8) -> list[Question]:
    """The ``train`` or ``test`` side of a benchmark's seeded split, ``limit`` per task.

    The same split as ``salam bench`` with the same seed and fraction, so ``salam gather`` on train
    and ``salam exam`` on test never share a question.
    """
    from salam.data.split import side as split_side
    from salam.data.split import split_benchmark

    if side not in ("train", "test"):
        raise SalamError(f"the split side must be train or test, not {side!r}")
    data, _ = load_benchmark(benchmark, tasks, data_dir)
    limits = {"train_limit": limit} if side == "train" else {"limit": limit}
    return split_side(split_benchmark(data, train_fraction=train_fraction, seed=seed, **limits), side)
