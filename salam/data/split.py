"""Train/test splits per task: seeded and stratified by default, or the paper's file order."""

from __future__ import annotations

import random
from typing import Literal

from salam.types import Question

SplitMode = Literal["seeded", "file-order"]


def _stratum(question: Question) -> str:
    # BBQ: keep ambiguous and disambiguated contexts in both splits in equal proportion.
    return str(question.metadata.get("context_condition", ""))


def split_task(
    questions: list[Question], train_fraction: float = 0.8, seed: int = 0, mode: SplitMode = "seeded"
) -> tuple[list[Question], list[Question]]:
    """(train, test) for one task. Seeded mode shuffles within strata with ``random.Random(seed)``."""
    if mode == "file-order":
        cut = int(round(len(questions) * train_fraction))
        return questions[:cut], questions[cut:]
    rng = random.Random(f"{seed}-{questions[0].task if questions else ''}")
    strata: dict[str, list[Question]] = {}
    for q in questions:
        strata.setdefault(_stratum(q), []).append(q)
    train: list[Question] = []
    test: list[Question] = []
    for key in sorted(strata):
        group = list(strata[key])
        rng.shuffle(group)
        cut = int(round(len(group) * train_fraction))
        train += group[:cut]
        test += group[cut:]
    # Interleave strata so that a --limit prefix stays balanced.
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def balanced_prefix(questions: list[Question], limit: int | None) -> list[Question]:
    """The first ``limit`` questions, taking strata in turn so small samples stay balanced."""
    if limit is None or limit >= len(questions):
        return list(questions)
    strata: dict[str, list[Question]] = {}
    for q in questions:
        strata.setdefault(_stratum(q), []).append(q)
    queues = [strata[k] for k in sorted(strata)]
    out: list[Question] = []
    index = 0
    while len(out) < limit:
        for queue in queues:
            if index < len(queue) and len(out) < limit:
                out.append(queue[index])
        index += 1
    return out


Splits = dict[str, dict[str, list[Question]]]
"""Per task: ``{"train": [...], "test": [...]}``."""


def split_benchmark(
    data: dict[str, list[Question]], *, train_fraction: float = 0.8, seed: int = 0, mode: SplitMode = "seeded",
    train_limit: int | None = None, limit: int | None = None, train_offset: int = 0,
) -> Splits:
    """Split every task, then keep balanced prefixes: ``train_limit`` train questions after skipping
    ``train_offset`` (those an earlier run used) and ``limit`` test questions per task."""
    out: Splits = {}
    for task, questions in data.items():
        train, test = split_task(questions, train_fraction, seed, mode)
        end = None if train_limit is None else train_offset + train_limit
        out[task] = {"train": balanced_prefix(train, end)[train_offset:], "test": balanced_prefix(test, limit)}
    return out


def side(splits: Splits, name: str) -> list[Question]:
    """All tasks' ``train`` or ``test`` questions, task by task."""
    return [q for parts in splits.values() for q in parts[name]]
