"""Curation merges near-duplicates with nothing lost; usefulness ranks by evidence; bad input is one line."""

from __future__ import annotations

import json

import pytest
from helpers import rec, run_cli

from salam.memory import MistakeMemory
from salam.testing import HashEmbedder

STORY = "At the bus stop {name} and a retired teacher waited; the bus was late and someone grew angry. Who grew angry?"
OTHER = "In the chess club a young {name} beat an old champion in twelve moves last spring. Who lost the game?"


def _records():
    twins = [rec(STORY.format(name=n), guideline=f"do not guess from age ({n})", helped=h, hurt=u, retrieved=h + u, task="Age",
                 options=["The teacher", "The other one", "Unknown"])
             for n, h, u in (("Ann", 1, 0), ("Bob", 5, 0), ("Cy", 0, 3))]
    pair = [rec(OTHER.format(name=n), guideline="the text does not say", helped=1, task="Age") for n in ("Dee", "Eve")]
    lone = rec("What colour is the sky on a clear day at noon over the sea?", guideline="think", task="Age")
    elsewhere = rec(STORY.format(name="Fay"), task="Nationality", guideline="other task")
    return twins + pair + [lone, elsewhere]


@pytest.fixture
def mem(tmp_path):
    with MistakeMemory.open(tmp_path / "m", embedder=HashEmbedder()) as memory:
        memory.add(_records())
        yield memory


def test_near_duplicates_merge_per_task_into_the_most_useful_with_summed_counters(tmp_path, mem):
    from salam.memory.curate import curate

    before = {r.id: r for r in mem.iter_records()}
    report = curate(mem, 0.8, tmp_path / "export.jsonl")
    assert (report.records_before, report.records_after, report.clusters, report.merged) == (7, 4, 2, 3)
    assert report.sizes == {2: 1, 3: 1}
    kept = [r for r in mem.iter_records() if r.merged_ids]
    story = next(r for r in kept if "bus stop" in r.question)
    assert "Bob" in story.question and story.guideline == "do not guess from age (Bob)"  # most evidence of help
    assert (story.helped, story.hurt, story.retrieved) == (6, 3, 9) and len(story.merged_ids) == 2
    assert any("Fay" in r.question for r in mem.iter_records())  # another task is never merged in
    exported = [json.loads(line)["id"] for line in (tmp_path / "export.jsonl").read_text().splitlines()]
    assert sorted(exported) == sorted(i for r in kept for i in [r.id, *r.merged_ids])
    from salam.memory.transfer import import_records, read_records_jsonl

    import_records(mem, read_records_jsonl(tmp_path / "export.jsonl"))  # the export restores what was removed
    assert {r.id for r in mem.iter_records()} == set(before)


def test_a_killed_curation_finishes_on_the_next_run_without_counting_twice(tmp_path, mem, monkeypatch):
    from salam.memory import curate as curation

    real_delete, calls = mem.delete, {"n": 0}

    def dying(ids):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt  # killed after the kept records were rewritten, before the others were removed
        return real_delete(ids)

    monkeypatch.setattr(mem, "delete", dying)
    with pytest.raises(KeyboardInterrupt):
        curation.curate(mem, 0.8, tmp_path / "export.jsonl")
    monkeypatch.setattr(mem, "delete", real_delete)
    report = curation.curate(mem, 0.8, tmp_path / "export.jsonl")
    assert report.resumed and report.records_after == 4
    story = next(r for r in mem.iter_records() if "bus stop" in r.question and r.task == "Age")
    assert (story.helped, story.hurt) == (6, 3)
    with pytest.raises(Exception, match="finished curation"):
        curation.curate(mem, 0.8, tmp_path / "export.jsonl")


def test_the_assistants_guideline_is_kept_only_when_it_is_safe(tmp_path, mem):
    from salam.memory.curate import curate

    def consolidate(members):
        return "The answer is (B)." if "bus stop" in members[0].question else "Answer from what the text says."

    report = curate(mem, 0.8, tmp_path / "export.jsonl", consolidate)
    assert (report.consolidated, report.kept_best) == (1, 1)
    guidelines = {r.guideline for r in mem.iter_records() if r.merged_ids}
    assert guidelines == {"do not guess from age (Bob)", "Answer from what the text says."}


def test_a_dry_run_plans_and_changes_nothing(tmp_path, mem):
    from salam.memory.curate import curate

    report = curate(mem, 0.8, dry_run=True)
    assert (report.records_after, report.merged, mem.count()) == (4, 3, 7)
    assert report.sample[0]["size"] == 3 and not (tmp_path / "export.jsonl").exists()


def test_wilson_bounds_and_ranking_by_usefulness(tmp_path):
    from salam.memory.usefulness import is_harmful, usefulness, wilson_lower_bound

    assert wilson_lower_bound(0, 0) == 0.0 and wilson_lower_bound(40, 50) > wilson_lower_bound(2, 2)
    assert usefulness(rec("q", helped=40, hurt=2)) > 0.7 > usefulness(rec("q", helped=2, hurt=0)) > 0
    assert is_harmful(rec("q", helped=1, hurt=12)) and not is_harmful(rec("q", helped=1, hurt=1))
    with MistakeMemory.open(tmp_path / "r", embedder=HashEmbedder()) as memory:
        memory.add([rec("who paid the bill at the small cafe on monday", helped=0, hurt=9, retrieved=9),
                    rec("who paid the bill at the cafe on monday", helped=30, hurt=1, retrieved=31)])
        query = "who paid the bill at the small cafe on monday morning"
        by_similarity = memory.similar(query, k=1)
        by_use = memory.similar(query, k=1, rank="useful")
        assert by_similarity[0].record.hurt == 9 and by_use[0].record.helped == 30


def test_distinct_retrieval_takes_the_closest_twin_of_each_template(tmp_path):
    folder = tmp_path / "m"
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as memory:
        memory.add(_records())
        query = STORY.format(name="Ann") + " Think."
        plain = memory.similar(query, k=3, task="Age", rank="similarity")
        assert sorted(h.record.question for h in plain) == sorted(STORY.format(name=n) for n in ("Ann", "Bob", "Cy"))
        distinct = [h.record.question for h in memory.similar(query, k=3, task="Age", rank="distinct")]
        assert [h.record.question for h in memory.similar(query, k=3, task="Age")] == distinct  # the default
    assert distinct[0] == plain[0].record.question == STORY.format(name="Ann")  # the closest twin is the one kept
    assert distinct[1] in (OTHER.format(name="Dee"), OTHER.format(name="Eve")) and distinct[2].startswith("What colour")
    code, out, err = run_cli("memory", "search", query, "--memory", str(folder), "--embedder", "hash-bow-64",
                             "--task", "Age", "-k", "3", "--rank", "distinct", "--json")
    assert code == 0, err
    assert [r["question"] for r in json.loads(out)] == distinct
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as memory:  # a task without records: no hits, no error
        assert memory.similar_many([query], k=3, task="Religion", rank="distinct") == [[]]


def test_the_viewer_semantic_search_lists_every_twin(tmp_path):
    """Retrieval skips near-copies by default; an inspection page must not hide records."""
    from salam.view.memory_pages import filtered

    with MistakeMemory.open(tmp_path / "m", embedder=HashEmbedder()) as memory:
        memory.add(_records())
        total, records, _ = filtered(memory, {"q": STORY.format(name="Ann"), "mode": "semantic", "task": "Age", "k": "3"})
    assert total == 3 and sorted(r.question for r in records) == sorted(STORY.format(name=n) for n in ("Ann", "Bob", "Cy"))


@pytest.mark.parametrize("args", [("--threshold", "0"), ("--threshold", "1.5"), ("--threshold", "nan")])
def test_bad_curation_input_is_one_line_and_changes_nothing(tmp_path, args):
    folder = tmp_path / "m"
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as memory:
        memory.add(_records())
    code, _, err = run_cli("memory", "curate", "--memory", str(folder), "--embedder", "hash-bow-64", "--yes", *args,
                           "--export", str(tmp_path / "e.jsonl"))
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as memory:
        assert memory.count() == 7


def test_a_near_duplicate_with_another_correct_answer_is_flagged_not_merged(tmp_path):
    from salam.memory.curate import curate

    with MistakeMemory.open(tmp_path / "c", embedder=HashEmbedder()) as memory:
        memory.add(_records() + [rec(STORY.format(name="Gus"), task="Age", true="C", helped=2,
                                     options=["The teacher", "The other one", "Unknown"])])
        report = curate(memory, 0.8, tmp_path / "export.jsonl")
        flagged = [r for r in memory.iter_records() if r.flagged]
        assert report.flagged == 1 and len(flagged) == 1 and "Gus" in flagged[0].question
        assert flagged[0].flagged.startswith("differs from ") and memory.stats()["namespaces"]["default"]["flagged"] == 1
    code, out, _ = run_cli("memory", "list", "--flagged", "--json", "--memory", str(tmp_path / "c"), "--embedder", "hash-bow-64")
    assert code == 0 and [r["question"] for r in json.loads(out)] == [flagged[0].question]


def test_capacity_evicts_the_least_useful_least_recently_used_after_exporting_them(tmp_path, mem):
    from salam.memory.curate import evict

    used = next(r for r in mem.iter_records() if "colour" in r.question)
    mem.record_outcome([used.id], correct=True)  # used just now, helped: kept
    assert mem.get(used.id).last_retrieved is not None
    removed, export = evict(mem, 3, tmp_path / "export.jsonl")
    kept = {r.question for r in mem.iter_records()}
    assert removed == 4 and mem.count() == 3 and any("colour" in q for q in kept) and any("Bob" in q for q in kept)
    assert len(export.read_text().splitlines()) == 4


def test_max_records_zero_is_one_line(tmp_path):
    folder = tmp_path / "m"
    with MistakeMemory.open(folder, embedder=HashEmbedder()) as memory:
        memory.add(_records())
    code, _, err = run_cli("memory", "curate", "--memory", str(folder), "--embedder", "hash-bow-64", "--yes",
                           "--max-records", "0", "--export", str(tmp_path / "e.jsonl"))
    assert code != 0 and err.strip() == "error: --max-records must be a whole number of at least 1, not 0"


def _twin(name: str, options: list[str], true: str, guideline: str = "the story does not say who grew angry"):
    return rec(STORY.format(name=name), task="Age", options=options, true=true, guideline=guideline)


def test_bbq_wordings_of_unknown_are_one_answer_and_unknown_against_a_named_option_is_flagged():
    from salam.memory.curate import relation

    a = _twin("Ann", ["The teacher", "Ann", "Can't be determined"], "C")
    b = _twin("Bob", ["Not enough information", "The teacher", "Bob"], "A")
    named = _twin("Cy", ["The teacher", "Cy", "Unknown"], "B")
    other = _twin("Ann", ["The teacher", "Ann", "Can't be determined"], "A")
    assert relation(a, b) == "same"  # "Can't be determined" and "Not enough information": one answer
    assert relation(a, named) == "contradicts"  # unknown against a named option
    assert relation(named, other) == "contradicts"  # "The teacher" is an option of both questions
    assert relation(_twin("Dee", ["The teacher", "Dee", "Unknown"], "B"), named) == "unrelated"  # Dee and Cy: other people


def test_twins_naming_other_people_merge_only_when_their_guidelines_say_the_same(tmp_path):
    from salam.memory.curate import curate

    with MistakeMemory.open(tmp_path / "m", embedder=HashEmbedder()) as memory:
        memory.add([_twin("Dee", ["The teacher", "Dee", "Unknown"], "B"), _twin("Cy", ["The teacher", "Cy", "Unknown"], "B"),
                    _twin("Gus", ["The teacher", "Gus", "Unknown"], "B", guideline="count the buses in the second sentence")])
        report = curate(memory, 0.8, tmp_path / "export.jsonl", guideline_threshold=0.95)
        assert (report.merged, report.flagged, memory.count()) == (1, 0, 2)  # Gus's lesson is another: left as it is
        assert any("Gus" in r.question and not r.merged_ids and not r.flagged for r in memory.iter_records())
    with pytest.raises(Exception, match=r"--guideline-threshold must be in \(0, 1\]"):
        curate(memory, 0.8, dry_run=True, guideline_threshold=0)


def test_a_contradicted_record_still_merges_with_its_own_twins_and_keeps_its_flag(tmp_path):
    from salam.memory.curate import curate

    opts = ["The teacher", "The other one", "Unknown"]
    with MistakeMemory.open(tmp_path / "m", embedder=HashEmbedder()) as memory:
        memory.add([rec(STORY.format(name="Ann"), task="Age", options=opts, true="C", helped=5),   # the leader: unknown
                    rec(STORY.format(name="Bob"), task="Age", options=opts, true="A", helped=2),   # contradicts Ann
                    rec(STORY.format(name="Cy"), task="Age", options=opts, true="A")])            # Bob's twin
        report = curate(memory, 0.8, tmp_path / "export.jsonl")
        records = {r.question.split()[4]: r for r in memory.iter_records()}
    assert (report.clusters, report.merged, report.flagged, sorted(records)) == (1, 1, 1, ["Ann", "Bob"])
    assert records["Bob"].merged_ids and records["Bob"].flagged == f"differs from {records['Ann'].id}"
