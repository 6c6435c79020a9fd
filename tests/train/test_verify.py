"""salam train verify: examples from the starting model's own answers, τ from held-out questions, the spec
the bench uses (the end-to-end test trains a few steps of the real embedded model)."""

from __future__ import annotations

import json

import pytest

from salam.errors import SalamError
from salam.selfcorrect.verify import VERDICTS
from salam.train.verify import VerifyConfig, build_examples
from salam.types import Question

QS = [Question(id=f"q{i}", task="t", text=f"question {i}?", options=["x", "y", "z"], answer="A") for i in range(3)]


def test_examples_cover_answer_verdict_and_revision_with_balanced_verdicts(tmp_path):
    pairs = [(QS[0], "A"), (QS[1], "A"), (QS[2], "A"), (QS[0], "B"), (QS[1], "C")]
    examples, kinds, _ = build_examples(VerifyConfig(out=tmp_path), QS, pairs, {QS[1].id: "Guideline: check the text.\n"})
    assert kinds == {"answer": 3, "verdict_right": 2, "verdict_wrong": 2, "revision": 2}
    verdicts = [e for e in examples if e.letters == VERDICTS]
    assert sorted(e.target for e in verdicts) == ["A", "A", "B", "B"]
    assert all("Proposed answer:" in e.prompt for e in verdicts)
    revisions = [e for e in examples if "judged wrong" in e.prompt]
    assert len(revisions) == 2 and all(e.target == "A" for e in revisions)
    assert any("Guideline: check the text." in e.prompt for e in revisions)  # the memory's guidelines, where retrieved


def test_a_questions_examples_that_begin_alike_form_one_group(tmp_path):
    """With memory guidance before the verification and revision prompts (not the answer's), the answer example gets
    a group of its own, so each group still shares its whole question; without guidance one group per question."""
    from salam.train.verify import question_groups

    pairs = [(QS[0], "A"), (QS[1], "A"), (QS[2], "A"), (QS[0], "B"), (QS[1], "C")]
    guided = {q.id: "Guideline: check the text.\n" for q in QS}
    for blocks, per_question in (({}, 1), (guided, 2)):
        examples, _, owners = build_examples(VerifyConfig(out=tmp_path, revise_right=True), QS, pairs, blocks)
        groups = question_groups(examples, owners)
        assert sum(len(g) for g in groups.values()) == len(examples)
        assert len(groups) == per_question * len(QS)
        for members in groups.values():
            assert len({e.prompt.split("\n", 1)[0] for e in members}) == 1


def test_revise_right_also_teaches_keeping_a_right_answer(tmp_path):
    pairs = [(QS[0], "A"), (QS[1], "A"), (QS[2], "A"), (QS[0], "B"), (QS[1], "C")]
    examples, kinds, _ = build_examples(VerifyConfig(out=tmp_path, revise_right=True), QS, pairs, {})
    revisions = [e for e in examples if "judged wrong" in e.prompt]
    kept = [e for e in revisions if "A first answer, (A)," in e.prompt]
    assert kinds["revision"] == 4 and len(kept) == 2 and all(e.target == "A" for e in revisions)


def _bbq(i: int) -> Question:
    return Question(id=f"b{i}", task="Age", text=f"context {i}. who?", options=["the old man", "the boy", "unknown"],
                    answer="C" if i % 2 else "A", metadata={"unknown_letter": "C"})


def test_kind_balance_leaves_the_answer_kind_no_clue_to_the_verdict(tmp_path):
    from salam.selfcorrect.verify import answer_group

    bbq = [_bbq(i) for i in range(12)]
    # "unknown" answers are all right (a kind alone would predict them); named answers: 4 right, 6 wrong
    pairs = ([(q, "C") for q in bbq if q.answer == "C"] + [(q, "A") for q in bbq if q.answer == "A"][:4]
             + [(q, "B") for q in bbq[:6]])
    by_label, label_kinds, _ = build_examples(VerifyConfig(out=tmp_path), bbq, pairs, {})
    by_kind, kind_kinds, _ = build_examples(VerifyConfig(out=tmp_path, verdict_balance="kind"), bbq, pairs, {})
    assert label_kinds["verdict_right"] == label_kinds["verdict_wrong"] == 6

    def verdicts(examples):
        found = []
        for e in examples:
            if e.letters == VERDICTS:
                q = next(q for q in bbq if q.text in e.prompt)
                letter = e.prompt.split("Proposed answer: (")[1][0]
                found.append((answer_group(q, letter), e.target))
        return found

    assert any(kind == "Age/unknown" for kind, _ in verdicts(by_label))
    assert kind_kinds["verdict_right"] == kind_kinds["verdict_wrong"] == 4  # the named kind only: 4 right, 4 wrong
    assert sorted(verdicts(by_kind)) == [("Age/named", "A")] * 4 + [("Age/named", "B")] * 4


def test_kind_balance_with_no_mixed_kind_is_one_line(tmp_path):
    bbq = [_bbq(i) for i in range(4)]
    pairs = [(q, "C") for q in bbq if q.answer == "C"] + [(q, "B") for q in bbq]  # unknown: right only; named: wrong only
    with pytest.raises(SalamError, match="--verdict-balance kind has no verdicts"):
        build_examples(VerifyConfig(out=tmp_path, verdict_balance="kind"), bbq, pairs, {})


def test_rechoose_refuses_a_folder_without_a_verify_model(tmp_path):
    from salam.errors import SalamError
    from salam.train.verify import rechoose

    with pytest.raises(SalamError, match="holds no finished `salam train verify` model"):
        rechoose(tmp_path)
    (tmp_path / "salam_train_manifest.json").write_text(json.dumps({"method": "sft", "settings": {}}))
    with pytest.raises(SalamError, match="holds a 'sft' model"):
        rechoose(tmp_path)


def test_a_starting_model_with_no_wrong_first_answers_is_one_line_with_a_hint(tmp_path):
    with pytest.raises(SalamError, match=r"3 right and 0 wrong: .*raise --temperature"):
        build_examples(VerifyConfig(out=tmp_path), QS, [(q, "A") for q in QS], {})


@pytest.mark.slow
def test_verify_trains_chooses_tau_on_held_out_questions_and_the_bench_uses_it(tmp_path, data_dir):
    from salam.bench.runner import BenchConfig, run_benchmark
    from salam.train.verify import train_verify

    config = VerifyConfig(out=tmp_path / "verify", tasks=["Age"], limit=6, validation=2, heldout=4, n_init=3, temperature=2.0,
                          max_steps=2, batch_size=4, data_dir=str(data_dir), save_steps=1)
    manifest = train_verify(config, log=lambda m: None)
    assert manifest["spec"] == f"local+lora:{tmp_path / 'verify'}" and manifest["steps"] == 2
    assert 0.0 <= manifest["verify_threshold"] <= 1.0 and manifest["heldout"]["heldout_n"] == 4
    assert manifest["examples_by_kind"]["verdict_right"] == manifest["examples_by_kind"]["verdict_wrong"] > 0
    saved = json.loads((tmp_path / "verify" / "salam_train_manifest.json").read_text())
    assert saved["verify_threshold"] == manifest["verify_threshold"]
    bench = BenchConfig(benchmark="bbq", tasks=["Age"], limit=3, train_limit=2, data_dir=str(data_dir), conditions=["none"],
                        model=manifest["spec"], gather=False, self_correct=True, self_correct_mode="verify")
    summary = run_benchmark(bench, tmp_path / "run")
    verify = summary["self_correct"]["verify"]
    by_role = manifest["verify_threshold_by_role"]  # BBQ: a τ for "unknown" and for named answers, where held-out had them
    assert by_role and set(by_role) <= {"unknown", "named"}
    used = {verify["threshold"]} if verify["threshold"] is not None else set(verify["threshold_by_role"].values())
    assert used <= {*by_role.values(), manifest["verify_threshold"]}
    assert verify["n"] == 3
    given = run_benchmark(BenchConfig(**{**bench.__dict__, "verify_threshold": 0.25, "verify_threshold_by_role": None}),
                          tmp_path / "given")
    assert given["self_correct"]["verify"]["threshold"] == 0.25  # --verify-threshold: one τ for every answer
    assert summary["self_correct"]["verify"]["reading"] == manifest["verify_reading"] in ("any", "another")
    from salam.train.verify import rechoose

    again = rechoose(tmp_path / "verify", log=lambda m: None)  # the same held-out questions: the same choice
    assert (again["verify_threshold"], again["verify_reading"]) == (manifest["verify_threshold"], manifest["verify_reading"])
    assert again["heldout_previous"]["verify_threshold"] == manifest["verify_threshold"]
    saved = json.loads((tmp_path / "verify" / "salam_train_manifest.json").read_text())
    assert saved["heldout_previous"]["heldout"] == manifest["heldout"] and saved["created"]
    more = rechoose(tmp_path / "verify", log=lambda m: None, heldout=6)  # more held-out questions per task, recorded
    assert more["heldout"]["heldout_n"] == 6 and more["heldout"]["heldout_per_task"] == 6
    with pytest.raises(SalamError, match="--heldout must be at least 1"):
        rechoose(tmp_path / "verify", heldout=0)
    from dataclasses import replace

    pag = train_verify(replace(config, out=tmp_path / "pag", variant="pag", max_steps=1), log=lambda m: None)
    assert pag["variant"] == "pag" and pag["steps"] == 1 and pag["examples_by_kind"]["prompts_per_question"] == 7
    assert 0.0 <= pag["verify_threshold"] <= 1.0


def test_the_pag_objective_matches_a_hand_computation_and_credits_each_turn_alone():
    import math

    import torch

    from salam.train.verify_objective import VerifyWeights, objective

    logits1 = torch.zeros(1, 2, requires_grad=True)                        # π1 = (.5, .5), gold is option 0
    verdicts = torch.tensor([[[0.0, 0.0], [0.0, math.log(3)]]], requires_grad=True)  # P(wrong | 0) = .5, P(wrong | 1) = .75
    logits2 = torch.tensor([[[0.0, 0.0], [math.log(3), 0.0]]], requires_grad=True)   # π2[g | 1] = .75
    mask, gold = torch.ones(1, 2, dtype=torch.bool), torch.tensor([0])
    loss, parts = objective(logits1, verdicts, logits2, mask, gold, VerifyWeights(alpha=1.0, normalise_roles=False))
    # policy .5; verifier .5 * (1 - .5) + .5 * .75 = .625; revision of the wrong answer .5 * (1 + 1) * .75 = .75
    assert float(loss.detach()) == pytest.approx(-(0.5 + 0.625 + 0.75))
    assert float(parts["verdict_accuracy"]) == pytest.approx(0.625) and float(parts["fix_if_revised"]) == pytest.approx(0.75)
    loss.backward()
    assert logits1.grad[0].tolist() == pytest.approx([-0.25, 0.25])  # only attempt 1's own reward moves attempt 1
    assert verdicts.grad[0, 0].tolist() == pytest.approx([-0.125, 0.125])  # descent makes the right answer's verdict "correct"
    assert verdicts.grad[0, 1, 1] < 0 and logits2.grad[0, 1, 0] < 0  # say "wrong" to the wrong answer, then fix it


def test_pag_prompts_cover_every_possible_first_answer(tmp_path):
    from transformers import AutoTokenizer

    from salam.models.embedded import ensure_embedded_model
    from salam.train.verify_objective import VerifyCollator

    tokenizer = AutoTokenizer.from_pretrained(ensure_embedded_model())
    rows = [{"answer": "Q? Answer: (", "verify": ["v A", "v B"], "revise": ["r A", "r B"], "letters": ["A", "B"], "gold": "B"},
            {"answer": "Q2? Answer: (", "verify": ["v A", "v B", "v C"], "revise": ["r A", "r B", "r C"],
             "letters": ["A", "B", "C"], "gold": "A"}]
    batch = VerifyCollator(tokenizer)(rows)
    assert batch["input_ids"].shape[0] == 2 * (1 + 2 * 3) and batch["gold"].tolist() == [1, 0]
    assert batch["option_mask"].tolist() == [[True, True, False], [True, True, True]]


def test_answer_verification_and_revision_of_a_question_begin_alike(tmp_path):
    """The revision's note sits after the question, so grouped training reads the question once for all three."""
    from salam.answering.answerer import answer_prompt
    from salam.selfcorrect.verify import revise_prompt, verify_prompt

    q = QS[0]
    head = f"Question: {q.render()}\n"
    prompts = [answer_prompt(q), verify_prompt(q, "B"), revise_prompt(q, "B")]
    assert all(p.startswith(head) for p in prompts)
    assert revise_prompt(q, "B", "Guideline: check.\n").startswith("Guideline: check.\n" + head)
    examples, _, owners = build_examples(VerifyConfig(out=tmp_path), QS, [(QS[0], "A"), (QS[0], "B")], {})
    assert sorted(owners) == ["q0", "q0", "q0", "q0", "q1", "q2"]  # answers of all three, q0's verdicts and revision
    assert all(e.prompt.startswith(f"Question: {QS[int(o[1])].render()}\n") for e, o in zip(examples, owners))
