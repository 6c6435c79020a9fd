"""``memory stats``: what a memory holds, read in pages of metadata (never the vectors)."""

from __future__ import annotations

import json
from typing import Any

from salam.memory.usefulness import HARM_BOUND, wilson_lower_bound
from salam.types import MEMORY_SCHEMA_VERSION


def memory_stats(memory: Any) -> dict[str, Any]:
    """Counts by namespace, kind, task and source, outcome totals, merged records, and records with evidence of harm."""
    out: dict[str, Any] = {"location": memory.location, "embedder": memory.embedder.name, "dim": memory.embedder.dim,
                           "schema_version": MEMORY_SCHEMA_VERSION, "total": 0, "namespaces": {}}
    for ns, kind, col in memory.backend.collections():
        entry = out["namespaces"].setdefault(ns, {"total": 0, "kinds": {}, "tasks": {}, "sources": {}, "retrieved": 0,
                                                 "helped": 0, "hurt": 0, "merged_records": 0, "merged_ids": 0,
                                                 "harmful": [], "flagged": 0})
        for got in memory.backend.pages(col, ["metadatas"], size=5000):
            for rid, meta in zip(got["ids"], got["metadatas"]):
                entry["total"] += 1
                out["total"] += 1
                entry["kinds"][kind] = entry["kinds"].get(kind, 0) + 1
                entry["tasks"][meta["task"]] = entry["tasks"].get(meta["task"], 0) + 1
                entry["sources"][meta["source"]] = entry["sources"].get(meta["source"], 0) + 1
                for key in ("retrieved", "helped", "hurt"):
                    entry[key] += int(meta.get(key, 0))
                merged = len(json.loads(meta.get("merged_ids") or "[]"))
                entry["merged_records"] += merged > 0
                entry["merged_ids"] += merged
                entry["flagged"] += bool(meta.get("flagged"))
                helped, hurt = int(meta.get("helped", 0)), int(meta.get("hurt", 0))
                if wilson_lower_bound(hurt, helped + hurt) >= HARM_BOUND:
                    entry["harmful"].append(rid)  # evidence of harm: demoted by rank="useful"
    return out
