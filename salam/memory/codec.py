"""MistakeRecord <-> Chroma (document, metadata): Chroma metadata holds only flat scalars, never None."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from salam.types import MistakeRecord, content_hash

_SPACE = re.compile(r"\s+")


def normalise_question(text: str) -> str:
    """Whitespace- and case-insensitive form used to recognise the same question."""
    return _SPACE.sub(" ", text).strip().lower()


def question_stem(text: str) -> str:
    """The question without its options: the same question with its options reordered is still itself."""
    return normalise_question(text.split("\nOptions:")[0])


def question_key(text: str) -> str:
    return content_hash(question_stem(text))


def to_metadata(record: MistakeRecord) -> dict[str, Any]:
    return {
        "namespace": record.namespace,
        "kind": record.kind,
        "task": record.task,
        "options": json.dumps(record.options, ensure_ascii=False),
        "wrong_answer": record.wrong_answer if record.wrong_answer is not None else "",
        "has_wrong": record.wrong_answer is not None,
        "true_answer": record.true_answer,
        "reason": record.reason,
        "guideline": record.guideline,
        "source": record.source,
        "main_model": record.main_model,
        "assistant_model": record.assistant_model,
        "created_at": record.created_at.isoformat(),
        "retrieved": record.retrieved,
        "helped": record.helped,
        "hurt": record.hurt,
        "merged_ids": json.dumps(record.merged_ids),
        "last_retrieved": record.last_retrieved.isoformat() if record.last_retrieved else "",
        "flagged": record.flagged,
        "schema_version": record.schema_version,
        "question_key": question_key(record.question),
    }


def from_chroma(record_id: str, document: str, meta: dict[str, Any]) -> MistakeRecord:
    return MistakeRecord(
        id=record_id,
        namespace=meta["namespace"],
        kind=meta.get("kind", "mistake"),
        task=meta.get("task", "default"),
        question=document,
        options=json.loads(meta.get("options") or "[]"),
        wrong_answer=meta.get("wrong_answer") if meta.get("has_wrong", True) else None,
        true_answer=meta.get("true_answer", ""),
        reason=meta.get("reason", ""),
        guideline=meta.get("guideline", ""),
        source=meta.get("source", "gather"),
        main_model=meta.get("main_model", ""),
        assistant_model=meta.get("assistant_model", ""),
        created_at=datetime.fromisoformat(meta["created_at"]),
        retrieved=int(meta.get("retrieved", 0)),
        helped=int(meta.get("helped", 0)),
        hurt=int(meta.get("hurt", 0)),
        merged_ids=json.loads(meta.get("merged_ids") or "[]"),
        last_retrieved=datetime.fromisoformat(meta["last_retrieved"]) if meta.get("last_retrieved") else None,
        flagged=meta.get("flagged", ""),
        schema_version=int(meta.get("schema_version", 1)),
    )
