"""Sampling answers in choice mode: a softmax over the option letters, no generation needed.

STaSC samples several first answers and several corrections per question. When an answer is an
option letter, its distribution is the softmax of the letters' log-probabilities at the answer
position (one forward pass per prompt), so any number of samples costs one pass; temperature and
nucleus (top-p) filtering act on that small distribution as they would on a generated token.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import numpy as np

from salam.types import Question


def letter_distributions(model: Any, prompts: Sequence[str], questions: Sequence[Question], temperature: float = 1.0,
                         batch_size: int = 8) -> list[np.ndarray]:
    """For each prompt (ending where the letter goes), probabilities over its question's letters.

    In a multi-process training run each process scores its share of the prompts and all get every result."""
    from salam._util.ranks import current_world

    world = current_world()
    if world.size > 1:
        mine = _distributions(model, world.shard(prompts), world.shard(questions), temperature, batch_size)
        return world.gather(mine, len(prompts))
    return _distributions(model, prompts, questions, temperature, batch_size)


def _distributions(model: Any, prompts: Sequence[str], questions: Sequence[Question], temperature: float,
                   batch_size: int) -> list[np.ndarray]:
    from langchain_core.messages import HumanMessage

    out: list[np.ndarray] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        formatted = [model.format_prompt([HumanMessage(p)]) for p in chunk]
        scores = model.score_options(formatted, [q.letters for q in questions[start : start + batch_size]])
        for row in scores:
            logits = np.asarray(row, dtype=np.float64) / max(temperature, 1e-6)
            probs = np.exp(logits - logits.max())
            out.append(probs / probs.sum())
    return out


def sample_letters(probs: np.ndarray, letters: Sequence[str], n: int, rng: random.Random, top_p: float = 0.9) -> list[str]:
    """``n`` letters drawn from ``probs`` after nucleus filtering (the smallest set holding ``top_p`` of the mass)."""
    order = np.argsort(-probs)
    keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p) + 1)]
    weights = probs[keep] / probs[keep].sum()
    return [letters[int(i)] for i in rng.choices(list(keep), weights=list(weights), k=n)]
