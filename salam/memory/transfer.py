"""Moving records in and out of the memory: JSONL export/import and the SALAM paper's released files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from salam.answering.options import split_options
from salam.answering.scoring import extract_choice, normalise_letter
from salam.assistant.leakage import guard_record
from salam.errors import DataError, data_shape
from salam.memory.codec import normalise_question
from salam.memory.store import MistakeMemory
from salam.types import MistakeRecord

_FEEDBACK_MARKER = "\nWe get the answer"


@dataclass
class ImportReport:
    """What an import read, added, and had to redact."""

    read: int = 0
    added: int = 0
    without_feedback: int = 0
    redacted: int = 0
    """Guidelines (or reasons) that named their own question's answer, redacted before storing."""
    files: dict[str, int] = field(default_factory=dict)


def export_jsonl(memory: MistakeMemory, namespace: str | None = None) -> Iterator[str]:
    """Yield one JSON line per record (write them where you like)."""
    for record in memory.iter_records(namespace=namespace):
        yield record.model_dump_json()


def read_records_jsonl(path: Path, namespace: str | None = None) -> list[MistakeRecord]:
    """Parse a JSONL export; a bad line is a one-line error naming the file and line."""
    from salam._util.jsonl import read_jsonl_strict

    what = "a salam memory record"
    records = []
    for where, data in read_jsonl_strict(path, what):
        with data_shape(where, what):
            if namespace:
                data["namespace"] = namespace
            data["id"] = ""  # ids are content hashes, always: a file's own id could duplicate or collide
            records.append(MistakeRecord.model_validate(data))
    return records


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc


def _task_name(raw: str) -> str:
    return raw.removesuffix("_zero_shot").removesuffix("_few_shot")


def _feedback_by_question(path: Path) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    data = _load_json(path)
    by_question: dict[str, dict[str, str]] = {}
    in_order: list[dict[str, str]] = []
    with data_shape(path, 'a SALAM feedback file ({"instances": [{"input", "output"}, ...]})'):
        for inst in data.get("instances", []):
            _add_feedback(inst, by_question, in_order)
    return by_question, in_order


def _add_feedback(inst: dict, by_question: dict, in_order: list) -> None:
    question = inst["input"].split(_FEEDBACK_MARKER)[0]
    try:
        fb = json.loads(inst["output"])
    except ValueError:
        fb = {"reason": "", "guideline": inst["output"]}
    if not isinstance(fb, dict):
        fb = {"reason": "", "guideline": str(fb)}
    entry = {"reason": str(fb.get("reason", "")), "guideline": str(fb.get("guideline", ""))}
    by_question[normalise_question(question)] = entry
    in_order.append(entry)


def salam_release_records(folder: Path, namespace: str = "default") -> tuple[list[MistakeRecord], ImportReport]:
    """Records from the SALAM paper's files: ``*_flan_t5_mistakes.json`` with ``*_feedback_gpt4.json``
    (matched by question text, falling back to position), and ``*_flan_t5_correct.json`` as solved cases."""
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder} (expected the SALAM release, e.g. $SALAM_DATA_DIR/salam)")
    report = ImportReport()
    records: list[MistakeRecord] = []
    mistake_files = sorted(folder.glob("*_mistakes.json"))
    if not mistake_files:
        raise DataError(f"no *_mistakes.json files in {folder}")
    for mistakes_path in mistake_files:
        prefix = mistakes_path.name.split("_")[0]
        feedback_path = folder / f"{prefix}_feedback_gpt4.json"
        by_question, in_order = _feedback_by_question(feedback_path) if feedback_path.is_file() else ({}, [])
        items = _load_json(mistakes_path)
        with data_shape(mistakes_path, "a SALAM release mistakes file (a list of Flan-T5 answers)"):
            records += _mistakes(items, by_question, in_order, namespace, prefix, report)
        report.files[mistakes_path.name] = len(items)
        correct_path = folder / f"{prefix}_flan_t5_correct.json"
        if correct_path.is_file():
            solved = _load_json(correct_path)
            with data_shape(correct_path, "a SALAM release file of correct answers"):
                records += [_solved(item, namespace, prefix) for item in solved]
            report.files[correct_path.name] = len(solved)
    report.read = len(records)
    return records, report


def _mistakes(items: list, by_question: dict, in_order: list, namespace: str, prefix: str,
              report: ImportReport) -> list[MistakeRecord]:
    records = []
    for position, item in enumerate(items):
        prompt = item["response/prompt_str"]
        fb = by_question.get(normalise_question(prompt))
        if fb is None and len(in_order) == len(items):
            fb = in_order[position]
        if fb is None:
            report.without_feedback += 1
        _, options = split_options(prompt)
        # Flan-T5 sometimes wrote the option's text instead of its letter: map it back when it is unambiguous.
        raw_output = str(item["response/output"])
        letters = [chr(ord("A") + i) for i in range(len(options))]
        wrong = extract_choice(raw_output, letters, options) or raw_output.strip()
        records.append(MistakeRecord(
            namespace=namespace, kind="mistake", task=_task_name(item.get("task", prefix)), question=prompt,
            options=options, wrong_answer=wrong, true_answer=normalise_letter(item["response/target_str"]),
            reason=(fb or {}).get("reason", ""), guideline=(fb or {}).get("guideline", ""), source="import",
            main_model="flan-t5-xxl", assistant_model="gpt-4" if fb else "",
        ))
    return records


def _solved(item: dict, namespace: str, prefix: str) -> MistakeRecord:
    prompt = item["response/prompt_str"]
    _, options = split_options(prompt)
    return MistakeRecord(namespace=namespace, kind="solved", task=_task_name(item.get("task", prefix)), question=prompt,
                         options=options, true_answer=normalise_letter(item["response/target_str"]), source="import",
                         main_model="flan-t5-xxl")


def import_records(
    memory: MistakeMemory, records: list[MistakeRecord], report: ImportReport | None = None,
    on_commit: Callable[[int], None] | None = None,
) -> ImportReport:
    """Add records to the memory, each guideline first passing the leakage guard against its own question."""
    report = report or ImportReport(read=len(records))
    guarded = [guard_record(r) for r in records]
    report.redacted = sum(changed for _, changed in guarded)
    report.added = memory.add([r for r, _ in guarded], on_commit=on_commit)
    return report
