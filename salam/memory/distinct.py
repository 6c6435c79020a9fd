"""Retrieval without near-copies: the top k lessons, no two of them one template's twins.

Curation merges twins that teach the same thing, but it keeps (and flags) twins whose correct answers
contradict: a BBQ story with an ambiguous context ("unknown") and the same story disambiguated (a named
person) are two lessons, and merging them would silently resolve a contradiction. For a new question
that resembles that story, a plain top 3 then spends two of its slots on the pair. ``rank="distinct"``
walks the most similar records in order and skips any whose question is a near-copy (the curation's
cosine) of one already taken, so the closest of each group of twins is the one the prompt sees: maximal
marginal relevance with a hard cut-off (LangChain's ``max_marginal_relevance_search`` trades similarity
against diversity with a weight; a cut-off at the curation's own cosine keeps every kept hit the nearest
of its group, which a weight does not promise). Written here because the stored vectors are already in
salam's exact index, so the walk costs no embedding call.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from salam.memory.curate import DEFAULT_CURATE_THRESHOLD
from salam.types import RetrievedMemory

NEAR_COPY = DEFAULT_CURATE_THRESHOLD
"""Two records whose questions are at least this close are copies of one template (curation's cosine)."""


def without_near_copies(hits: Sequence[RetrievedMemory], vectors: np.ndarray, k: int,
                        near: float = NEAR_COPY) -> list[RetrievedMemory]:
    """The first ``k`` of ``hits`` (most similar first) whose vector (rows of ``vectors``, one per hit) is
    below ``near`` cosine of every hit already taken."""
    if len(hits) == 0:
        return []
    unit = np.asarray(vectors, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    taken: list[int] = []
    for i in range(len(hits)):
        if all(float(unit[i] @ unit[j]) < near for j in taken):
            taken.append(i)
            if len(taken) == k:
                break
    return [hits[i] for i in taken]
