"""BBQ and BBH loaders on the real files; missing data is a one-line error."""

from __future__ import annotations

import pytest

from salam.data.bbh import BBH_TASKS, PAPER_MC_TASKS, load_bbh
from salam.data.bbq import BBQ_CATEGORIES, load_bbq
from salam.errors import DataError


def test_named_task_lists():
    assert len(BBH_TASKS) == 27 and len(PAPER_MC_TASKS) == 16 and set(PAPER_MC_TASKS) <= set(BBH_TASKS)
    assert len(BBQ_CATEGORIES) == 11


def test_bbq_loader_on_real_files(data_dir):
    data = load_bbq(["Age", "Disability_status", "Nationality", "Physical_appearance"], data_dir)
    assert {k: len(v) for k, v in data.items()} == {"Age": 3680, "Disability_status": 1556, "Nationality": 3080,
                                                    "Physical_appearance": 1576}
    for questions in data.values():
        for q in questions:
            assert len(q.options) == 3 and q.answer in "ABC"
            unknown = q.metadata["unknown_letter"]
            assert unknown in "ABC" and q.metadata["answer_groups"]["ABC".index(unknown)] == "unknown"
            assert q.metadata["context_condition"] in ("ambig", "disambig")
            assert q.metadata["question_polarity"] in ("neg", "nonneg")
            if q.metadata["context_condition"] == "ambig":
                assert q.answer == unknown  # BBQ: the right answer to an ambiguous context is always "unknown"
    first = data["Age"][0]
    assert first.render().endswith("(C) Can't be determined") and first.metadata["stereotyped_groups"] == ["old"]


def test_bbh_loader_on_real_files(data_dir):
    present = [t for t in BBH_TASKS if (data_dir / "bbh" / f"{t}.json").is_file()]
    assert len(present) == 25
    data = load_bbh(present, data_dir)
    mc = [t for t in present if t in PAPER_MC_TASKS]
    assert len(mc) == 14
    for task in mc:
        for q in data[task]:
            assert len(q.options) >= 2 and q.answer in q.letters, (task, q.id)
    assert len(data["penguins_in_a_table"]) == 146
    assert len(data["movie_recommendation"]) == 249  # one upstream target ("Monsters, Inc") names no option: dropped
    nav = data["navigate"][0]
    assert not nav.options and nav.answer in ("Yes", "No")
    assert data["geometric_shapes"][0].options[0].startswith("circle")


def test_missing_data_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SALAM_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DataError) as info:
        load_bbq(["Age"], tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message and "nowhere" in message and "SALAM_DATA_DIR" in message
    with pytest.raises(DataError, match="unknown BBQ category"):
        load_bbq(["Aging"], tmp_path)
