"""Every default that more than one entry point shares, in one place, with where it comes from.

Retrieval follows the SALAM paper (Wang et al., 2023, sec. 4): k=3 and cosine threshold 0.9 for BBQ,
k=1 and 0.95 for BBH. Library calls and the chat commands, which do not know their benchmark, take
the BBQ values: the paper's general setting, and the stricter threshold keeps unrelated notes out of
a conversation.
"""

from __future__ import annotations

RETRIEVAL_K = 3
"""Memories retrieved per question (paper, BBQ)."""

RETRIEVAL_THRESHOLD = 0.9
"""Least cosine similarity of a retrieved memory (paper, BBQ)."""

PAPER_RETRIEVAL: dict[str, tuple[int, float]] = {"bbq": (3, 0.9), "bbh": (1, 0.95)}
"""(k, threshold) per benchmark, as the paper sets them."""

SAME_TASK = True
"""Retrieve only memories of the question's own task: the paper keeps one memory per task."""

RETRIEVAL_RANKS = ("similarity", "useful", "distinct")
"""How a retrieval orders its hits: the paper's similarity, usefulness (:mod:`salam.memory.usefulness`), or
similarity without near-copies (:mod:`salam.memory.distinct`)."""

DEFAULT_RANK = "distinct"
"""The rank of every retrieval unless told: the most similar records, skipping near-copies of one already taken.
Chosen over the paper's plain similarity (``--rank similarity``, kept) because a plain top 3 of the paper's memory
spends 43.1% of its pairs on template twins (32.3% after curation, which keeps contradicting twins on purpose) and
``distinct`` none, with the same accuracy for each model measured (benchmarks/results/curation.md). With one
memory per question (the paper's BBH k=1) the two give the same hit."""

ANSWER_MAX_NEW_TOKENS = 12
"""Tokens the main model may write for an answer: a letter or a short phrase (salam's own choice)."""

ASSISTANT_MAX_NEW_TOKENS = 64
"""Tokens the study assistant may write in loops and benchmarks: a reason and a guideline of 2-3 sentences."""

CHAT_ASSISTANT_MAX_NEW_TOKENS = 96
"""Tokens the assistant may write when it stands alone (``StudyAssistant("spec")``, ``salam ask --assistant``)."""

CHAT_MAX_NEW_TOKENS = 48
"""Tokens ``salam ask`` lets a model write."""

BATCH_SIZE = 8
"""Prompts per left-padded batch: 3.6x the throughput of single calls on 2 cores (benchmarks/results)."""


def retrieval_for(benchmark: str | None) -> tuple[int, float]:
    """The paper's (k, threshold) for a benchmark, the general values otherwise."""
    return PAPER_RETRIEVAL.get(benchmark or "", (RETRIEVAL_K, RETRIEVAL_THRESHOLD))
