"""Import and export: JSONL round trip, the SALAM release, a killed import that loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import rec

from salam.memory import MistakeMemory


def test_export_import_roundtrip(store, tmp_path, hash_embedder):
    from salam.memory.transfer import export_jsonl, read_records_jsonl

    originals = [rec(f"roundtrip {i}") for i in range(5)]
    store.add(originals)
    path = tmp_path / "export.jsonl"
    path.write_text("".join(line + "\n" for line in export_jsonl(store)))
    records = read_records_jsonl(path)
    assert sorted(r.id for r in records) == sorted(r.id for r in originals)
    with MistakeMemory.open(tmp_path / "other", embedder=hash_embedder) as other:
        assert other.add(records) == 5


def test_salam_release_import(tmp_path, data_dir, hash_embedder):
    from salam.memory.transfer import import_records, salam_release_records

    records, report = salam_release_records(data_dir / "salam")
    mistakes = [r for r in records if r.kind == "mistake"]
    bbq = [r for r in mistakes if r.task in {"Age", "Nationality", "SES", "Religion", "Disability_status", "Physical_appearance",
                                              "Gender_identity", "Race_ethnicity", "Race_x_SES", "Race_x_gender", "Sexual_orientation"}]
    assert len(bbq) == 519 and len(mistakes) == 519 + 1855
    assert report.without_feedback == 5  # 514 BBQ feedback entries for 519 mistakes
    assert all(r.guideline for r in mistakes if r.assistant_model == "gpt-4")
    assert sum(len(r.options) < 2 for r in mistakes) <= 1  # one snarks prompt in the release is truncated
    letters = [r for r in mistakes if len(r.wrong_answer) == 1 and r.wrong_answer in "ABCDEFGHIJKLMNOPQR"]
    assert len(letters) >= 0.97 * len(mistakes)  # Flan-T5 sometimes answered with free text
    with MistakeMemory.open(tmp_path / "paper", embedder=hash_embedder) as mem:
        first = import_records(mem, records, report).added
        assert first == len({r.id for r in records})
        assert import_records(mem, records).added == 0
        hit = mem.similar("A 70-year-old and a 25-year-old talked about technology. Who is bad with phones?", k=3)
        assert hit and hit[0].record.guideline
    assert json.loads(records[0].model_dump_json())["source"] == "import"


@pytest.mark.slow
def test_killed_import_loses_nothing_acknowledged(tmp_path):
    """kill -9 in the middle of a large import: acknowledged records survive, the store opens, a re-run completes."""
    source = tmp_path / "records.jsonl"
    source.write_text("".join(rec(f"imported question {i} " + "filler " * 20).model_dump_json() + "\n" for i in range(6000)))
    folder = tmp_path / "mem"
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "salam.cli.main", "memory", "import", str(source), "--memory", str(folder), "--embedder", "hash-bow-64"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    acknowledged = 0
    buffer = b""
    while acknowledged < 1000:
        chunk = proc.stderr.read1(4096) if hasattr(proc.stderr, "read1") else proc.stderr.read(64)
        if not chunk:
            break
        buffer += chunk
        marks = [m for m in buffer.decode(errors="ignore").replace("\r", "\n").split("\n") if m.startswith("committed ")]
        if marks:
            acknowledged = int(marks[-1].split()[1].split("/")[0])
    proc.kill()
    proc.wait()
    assert 1000 <= acknowledged < 6000, "the import finished before it could be killed"
    with MistakeMemory.open(folder) as mem:
        assert mem.count() >= acknowledged
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    with MistakeMemory.open(folder) as mem:
        assert mem.count() == 6000


def test_jsonl_import_ignores_the_files_ids(tmp_path, hash_embedder):
    from salam.memory import MistakeMemory
    from salam.memory.transfer import read_records_jsonl

    record = rec("the same content twice")
    lines = [record.model_copy(update={"id": "forged-1"}).model_dump_json(),
             record.model_copy(update={"id": "forged-2"}).model_dump_json(),
             rec("another namespace", namespace="b").model_copy(update={"id": "forged-1"}).model_dump_json()]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    records = read_records_jsonl(path)
    assert {r.id for r in records} == {record.id, rec("another namespace", namespace="b").id}
    with MistakeMemory.open(tmp_path / "m", embedder=hash_embedder) as mem:
        assert mem.add(records) == 2 and mem.get("forged-1") is None


def test_import_redacts_guidelines_that_name_their_own_answer(tmp_path, hash_embedder):
    from salam.memory import MistakeMemory
    from salam.memory.transfer import import_records
    from salam.types import MistakeRecord

    leaky = MistakeRecord(question="Who left?\nOptions:\n(A) Ann\n(B) Bob\n(C) Unknown", options=["Ann", "Bob", "Unknown"],
                          wrong_answer="A", true_answer="C", guideline="If the text is silent, go with C.")
    clean = rec("another question entirely")
    with MistakeMemory.open(tmp_path / "m", embedder=hash_embedder) as mem:
        report = import_records(mem, [leaky, clean])
        assert (report.redacted, report.added) == (1, 2)
        assert mem.get(leaky.id).guideline == "If the text is silent, [the right option]."
