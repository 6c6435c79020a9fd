"""MistakeMemory: the same behaviour against an embedded folder and a real Chroma server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from helpers import rec

from salam.types import MistakeRecord


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


def test_with_a_baseline_only_flips_count_as_helped_or_hurt(store):
    a = rec("a question the memory did not change")
    store.add([a])
    store.record_outcome([a.id], correct=False, baseline_correct=False)
    store.record_outcome([a.id], correct=True, baseline_correct=True)
    store.record_outcome([a.id], correct=True, baseline_correct=False)
    got = store.get(a.id)
    assert (got.retrieved, got.helped, got.hurt) == (3, 1, 0)


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


def test_delete_from_one_of_several_collections(store):
    store.add([rec("in the default namespace"), rec("elsewhere", namespace="other"),
               rec("a solved case", kind="solved", wrong=None)])
    victim = rec("in the default namespace")
    assert store.delete([victim.id]) == 1 and store.get(victim.id) is None
    assert store.delete(["no-such-id"]) == 0 and store.count() == 2


def test_an_outcome_replayed_with_the_same_key_counts_once(store):
    a = rec("a question used twice by a resumed run")
    store.add([a])
    for _ in range(3):  # a crash after record_outcome, then the resume examines the question again
        store.record_outcome([a.id], correct=True, baseline_correct=False, key="run-1:feedback:q7")
    store.record_outcome([a.id], correct=False, baseline_correct=True, key="run-2:feedback:q7")
    got = store.get(a.id)
    assert (got.retrieved, got.helped, got.hurt) == (2, 1, 1)
