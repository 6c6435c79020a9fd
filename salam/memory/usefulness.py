"""How useful a record has been: its helped/hurt counts as lower confidence bounds, and ranking by them.

A record retrieved twice that helped twice is weak evidence; one that helped 40 of 50 times is strong. The
Wilson score interval's lower bound turns counts into a rate the evidence supports (ACE keeps the same
helpful/harmful counters per bullet). Records with no evidence score 0 either way, so plain similarity
decides among them, as in the paper.
"""

from __future__ import annotations

import math
from typing import Sequence

from salam.defaults import RETRIEVAL_RANKS as RANKS  # noqa: F401 (re-exported)
from salam.types import MistakeRecord, RetrievedMemory

USEFUL_WEIGHT = 0.1
"""How much cosine similarity usefulness is worth: strong evidence of help (or harm) moves a record by up to
0.1, about the gap between a template twin and another template's question."""
HARM_BOUND = 0.2
"""A record whose harm rate's lower bound reaches this has evidence of harm: demoted, and listed by stats."""


def wilson_lower_bound(successes: int, trials: int, z: float = 1.96) -> float:
    """The lower end of the 95% Wilson score interval of ``successes / trials`` (0 with no trials)."""
    if trials <= 0:
        return 0.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, (centre - margin) / (1 + z * z / trials))


def usefulness(record: MistakeRecord) -> float:
    """Evidence of help minus evidence of harm, each a Wilson lower bound over the uses that flipped an answer."""
    trials = record.helped + record.hurt
    return wilson_lower_bound(record.helped, trials) - wilson_lower_bound(record.hurt, trials)


def is_harmful(record: MistakeRecord) -> bool:
    return wilson_lower_bound(record.hurt, record.helped + record.hurt) >= HARM_BOUND


def rank_hits(hits: Sequence[RetrievedMemory], rank: str, k: int) -> list[RetrievedMemory]:
    """The best ``k`` hits: by similarity (the paper's), or by similarity plus ``USEFUL_WEIGHT`` × usefulness."""
    if rank == "similarity":
        return list(hits)[:k]
    return sorted(hits, key=lambda h: -(h.similarity + USEFUL_WEIGHT * usefulness(h.record)))[:k]
