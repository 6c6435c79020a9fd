"""MistakeMemory: the same behaviour against an embedded folder and a real Chroma server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from salam.errors import StoreError
from salam.memory import MistakeMemory
from salam.types import MistakeRecord


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    exe = shutil.which("chroma")
    if exe is None:
        pytest.skip("the chroma CLI is not installed")
    port = _free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen([exe, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(params=["embedded", "server"])
def store(request, tmp_path, hash_embedder):
    if request.param == "embedded":
        mem = MistakeMemory.open(tmp_path / "memory", embedder=hash_embedder)
    else:
        url = request.getfixturevalue("chroma_server")
        mem = MistakeMemory.open(url=url, embedder=hash_embedder)
    yield mem
    if request.param == "server":
        for col in mem._client.list_collections():
            mem._client.delete_collection(col.name)
    mem.close()


def rec(question: str, wrong: str = "A", true: str = "B", namespace: str = "default", **kw) -> MistakeRecord:
    return MistakeRecord(namespace=namespace, question=question, wrong_answer=wrong, true_answer=true,
                         guideline=kw.pop("guideline", f"think about {question.split()[0]}"), **kw)


def test_add_is_idempotent_and_batched(store):
    records = [rec(f"question number {i} about apples") for i in range(600)]
    assert store.add(records) == 600
    assert store.add(records) == 0
    assert store.count() == 600
    assert store.get(records[5].id).question == records[5].question


def test_same_content_gives_same_id():
    assert rec("what is x").id == rec("what is x").id
    assert rec("what is x").id != rec("what is x", namespace="other").id
    assert rec("what is x").id != rec("what is x", wrong="C").id


def test_similar_ranks_and_respects_threshold(store):
    store.add([rec("the cat sat on the mat"), rec("dogs bark at night loudly"), rec("the cat sat on a red mat today")])
    hits = store.similar("a cat sat on the mat", k=3)
    assert [h.record.question for h in hits][:2] == ["the cat sat on the mat", "the cat sat on a red mat today"]
    assert all(a.similarity >= b.similarity for a, b in zip(hits, hits[1:]))
    assert all(h.similarity >= 0.6 for h in store.similar("a cat sat on the mat", k=3, threshold=0.6))


def test_namespaces_never_cross(store):
    store.add([rec("shared words in question", namespace="alpha"), rec("shared words in question here", namespace="beta")])
    alpha = store.similar("shared words in question here please", k=5, namespace="alpha")
    assert [h.record.namespace for h in alpha] == ["alpha"]
    assert store.similar("anything", namespace="gamma") == []
    assert set(store.namespaces()) == {"alpha", "beta"}


def test_no_self_retrieval_by_default(store):
    store.add([rec("Who was late? Options: (A) Ann (B) Bob"), rec("Who was early? Options: (A) Ann (B) Bob")])
    hits = store.similar("Who was late? Options: (A) Ann (B) Bob", k=5)
    assert "Who was late? Options: (A) Ann (B) Bob" not in [h.record.question for h in hits]
    assert len(hits) == 1
    own = store.similar("who was LATE?  Options: (A) Ann (B) Bob", k=5, allow_self=True)
    assert own[0].similarity == pytest.approx(1.0, abs=1e-5)
    store.add([rec("Who was tired?\nOptions:\n(A) Ann\n(B) Bob")])
    reordered = store.similar("Who was tired?\nOptions:\n(A) Bob\n(B) Ann", k=5)
    assert "Who was tired?" not in [h.record.question.split("\n")[0] for h in reordered]  # same question, options reordered


def test_task_filter_and_kinds(store):
    store.add([rec("alpha beta gamma", task="t1"), rec("alpha beta delta", task="t2"),
               MistakeRecord(kind="solved", question="alpha beta epsilon", true_answer="A")])
    assert [h.record.task for h in store.similar("alpha beta", k=5, task="t2")] == ["t2"]
    assert [h.record.kind for h in store.similar("alpha beta", k=5, kind="solved")] == ["solved"]


def test_task_filter_finds_records_ranked_below_many_other_task_records(store):
    """A task's records are found even when many of other tasks' records are nearer the query."""
    store.add([rec(f"alpha beta gamma {i}", task="crowd") for i in range(40)])
    store.add([rec("alpha zeta", task="rare"), rec("alpha theta", task="rare")])
    hits = store.similar("alpha beta gamma", k=2, task="rare")
    assert sorted(h.record.question for h in hits) == ["alpha theta", "alpha zeta"]
    many = store.similar_many(["alpha beta gamma", "alpha beta gamma 3"], k=2, task=["rare", None])
    assert [h.record.task for h in many[0]] == ["rare", "rare"] and [h.record.task for h in many[1]] == ["crowd", "crowd"]


def test_record_outcome_and_prune(store):
    a, b = rec("first question text"), rec("second question text")
    store.add([a, b])
    for _ in range(3):
        store.record_outcome([a.id], correct=False)
    store.record_outcome([b.id], correct=True)
    got = store.get(a.id)
    assert (got.retrieved, got.helped, got.hurt) == (3, 0, 3)
    assert store.prune(margin=2, dry_run=True).removed == 1
    assert store.count() == 2
    report = store.prune(margin=2)
    assert report.by_outcome == 1 and store.get(a.id) is None and store.get(b.id) is not None


def test_prune_by_age_and_count(store):
    old = rec("an old question", created_at=datetime.now(timezone.utc) - timedelta(days=40))
    new = [rec(f"new question {i}") for i in range(3)]
    store.add([old, *new])
    assert store.prune(margin=None, max_age_days=30).by_age == 1
    assert store.prune(margin=None, max_count=2).by_count == 1
    assert store.count() == 2


def test_stats_and_delete(store):
    store.add([rec("q one", task="x", source="import"), rec("q two", task="y")])
    stats = store.stats()
    assert stats["total"] == 2
    assert stats["namespaces"]["default"]["sources"] == {"import": 1, "gather": 1}
    assert store.delete([rec("q one", task="x", source="import").id, "missing"]) == 1


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


def test_embedder_mismatch_is_refused(tmp_path, hash_embedder):
    from salam.testing import HashEmbedder

    with MistakeMemory.open(tmp_path / "m", embedder=hash_embedder) as mem:
        mem.add([rec("x y z")])
    with pytest.raises(StoreError, match="built with embedder"):
        MistakeMemory.open(tmp_path / "m", embedder=HashEmbedder(dim=32))
    with MistakeMemory.open(tmp_path / "m") as again:  # no embedder given: the stored one is used
        assert again.embedder.name == hash_embedder.name


def test_foreign_and_corrupted_folders(tmp_path, hash_embedder):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a salam memory"):
        MistakeMemory.open(foreign, embedder=hash_embedder)
    assert (foreign / "notes.txt").read_text() == "mine"
    broken = tmp_path / "broken"
    with MistakeMemory.open(broken, embedder=hash_embedder) as mem:
        mem.add([rec("a b c")])
    (broken / "salam.json").write_text("{not json")
    with pytest.raises(StoreError, match="corrupted"):
        MistakeMemory.open(broken, embedder=hash_embedder)
    with pytest.raises(StoreError, match="no memory"):
        MistakeMemory.open(tmp_path / "absent", embedder=hash_embedder, create=False)


def test_second_process_waits_then_fails_clearly(tmp_path, hash_embedder):
    with MistakeMemory.open(tmp_path / "m", embedder=hash_embedder):
        code = (
            "import os; os.environ['SALAM_LOCK_TIMEOUT']='1'\n"
            "from salam.memory import MistakeMemory\nfrom salam.testing import HashEmbedder\n"
            f"MistakeMemory.open({str(tmp_path / 'm')!r}, embedder=HashEmbedder())\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert "in use by another process" in result.stderr


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


def test_query_embeddings_are_cached_and_bounded():
    from salam.memory.embeddings import QueryEmbeddingCache
    from salam.testing import HashEmbedder

    calls: list[list[str]] = []

    class Counting(HashEmbedder):
        def embed(self, texts):
            calls.append(list(texts))
            return super().embed(texts)

    inner = Counting()
    cache = QueryEmbeddingCache(inner, maxsize=2)
    first = cache.embed(["a b", "c d", "a b"])
    again = cache.embed(["c d", "a b"])
    assert calls == [["a b", "c d"]]
    assert (again[0] == first[1]).all() and (again[1] == first[0]).all()
    assert (first == inner.embed(["a b", "c d", "a b"])).all()
    cache.embed(["e f"])  # evicts the least recently used ("c d")
    cache.embed(["c d"])
    assert calls[-2:] == [["e f"], ["c d"]]
