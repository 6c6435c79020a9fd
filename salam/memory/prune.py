"""Which records a prune removes, and the one validation of its limits (the CLI, the viewer and the
Python API share both): records that hurt more than they helped, older than an age, beyond a count."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

from salam.errors import StoreError
from salam.memory.chroma import KINDS
from salam.types import MistakeRecord


@dataclass
class PruneReport:
    removed: int
    by_outcome: int
    by_age: int
    by_count: int


def check_prune_limits(margin: int | None, max_age_days: float | None, max_count: int | None) -> None:
    """The one validation of prune's limits, shared by the CLI, the viewer and the Python API."""
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, int) or margin < 1):
        raise StoreError(f"--margin must be a whole number of at least 1, not {margin!r}")
    if max_age_days is not None and not (isinstance(max_age_days, (int, float)) and math.isfinite(max_age_days) and max_age_days >= 0):
        raise StoreError(f"--max-age-days must be a number of days of at least 0, not {max_age_days!r}")
    if max_count is not None and (isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 0):
        raise StoreError(f"--max-count must be a whole number of at least 0, not {max_count!r}")


def plan_prune(records: Sequence[MistakeRecord], margin: int | None, max_age_days: float | None,
               max_count: int | None) -> dict[str, str]:
    """Record id -> why it goes (``outcome``, ``age`` or ``count``) among one namespace's records.

    The count limit keeps the newest records of each kind (mistakes and solved cases are counted apart).
    Helped and hurt are :func:`salam.types.memory_outcome`'s.
    """
    doomed: dict[str, str] = {}
    now = datetime.now(timezone.utc)
    for r in records:
        if margin is not None and r.hurt - r.helped >= margin:
            doomed[r.id] = "outcome"
        elif max_age_days is not None and now - r.created_at > timedelta(days=max_age_days):
            doomed[r.id] = "age"
    if max_count is not None:
        for kind in KINDS:
            survivors = sorted((r for r in records if r.id not in doomed and r.kind == kind), key=lambda r: r.created_at, reverse=True)
            doomed.update({r.id: "count" for r in survivors[max_count:]})
    return doomed
