"""benchmarks/verify_signal.py: the verifier's AUROC split into what the answer kind explains and what is left."""

from __future__ import annotations

from salam.types import Question


def test_rotating_the_options_moves_the_gold_and_unknown_letters_with_their_text(benchmark_script):
    q = Question(id="b", task="Age", text="Who forgot?", options=["The boy", "Unknown", "The man"], answer="C",
                 metadata={"unknown_letter": "B"})
    once = benchmark_script("verify_signal").rotated(q, 1)
    assert once.options == ["Unknown", "The man", "The boy"]
    assert once.options[once.letters.index(once.answer)] == "The man" and once.metadata["unknown_letter"] == "A"
    assert q.options == ["The boy", "Unknown", "The man"]  # the original is untouched


def test_measures_report_all_inside_kinds_and_the_kind_alone(benchmark_script):
    rows = [{"group": "Age/unknown", "wrong": False, "p_wrong": 0.1}, {"group": "Age/unknown", "wrong": False, "p_wrong": 0.1},
            {"group": "Age/named", "wrong": True, "p_wrong": 0.9}, {"group": "Age/named", "wrong": False, "p_wrong": 0.9}]
    m = benchmark_script("verify_signal").measures(rows, ("p_wrong",))
    assert (m["n"], m["wrong"], m["kinds"]) == (4, 1, {"named": (2, 1), "unknown": (2, 0)})
    all_, inside = m["p_wrong"]
    assert inside == 0.5 and all_ == m["kind_alone"] > 0.8  # a kind detector, not a verifier
    assert m["verifier_by_kind"] == {"named": 0.5, "unknown": None}  # no wrong "unknown" answer: undefined there


def test_the_pooled_inside_figure_can_hide_a_kind_at_chance(benchmark_script):
    unknown = [{"group": "Age/unknown", "wrong": w, "p_wrong": 0.9 if w else 0.1} for w in [True] * 4 + [False] * 6]
    named = [{"group": "Age/named", "wrong": w, "p_wrong": 0.5} for w in (True, False)]
    m = benchmark_script("verify_signal").measures(unknown + named, ("p_wrong",))
    assert m["p_wrong"][1] > 0.95 and m["verifier_by_kind"] == {"named": 0.5, "unknown": 1.0}
