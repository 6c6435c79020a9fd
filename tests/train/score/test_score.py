"""SCoRe's exact choice-mode objective against hand-computed values; the stages on real questions."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from salam.train.score.objective import ScoreWeights, objective  # noqa: E402

# Two options, gold = option 0. Attempt 1: logits (0, ln 3) -> π1 = (1/4, 3/4).
# Attempt 2 given a=0: (ln 9, 0) -> (0.9, 0.1); given a=1: (0, 0) -> (0.5, 0.5).
L1 = torch.tensor([[0.0, math.log(3)]], requires_grad=True)
L2 = torch.tensor([[[math.log(9), 0.0], [0.0, 0.0]]], requires_grad=True)
MASK = torch.tensor([[True, True]])
GOLD = torch.tensor([0])
REF1 = torch.log(torch.tensor([[0.5, 0.5]]))
REF2 = torch.log(torch.tensor([[[0.5, 0.5], [0.5, 0.5]]]))
W = ScoreWeights(beta1=0.01, beta2=0.1, alpha=10.0)

R1 = 0.25
R2 = 0.25 * 0.9 + 0.75 * 0.5                     # 0.6
KL1 = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
KL_A0 = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
KL2 = 0.25 * KL_A0 + 0.75 * 0.0
BONUS = 0.25 * (0.9 - 1.0) + 0.75 * (0.5 - 0.0)   # E[r2 - r1]


@pytest.mark.parametrize("stage, gain", [
    ("stage1", R2 - 0.1 * KL1 - 0.01 * KL2),
    ("stage2", R1 + R2 + 10 * BONUS - 0.01 * (KL1 + KL2)),
    ("single-turn", R1 - 0.01 * KL1),
])
def test_the_exact_objective_matches_a_hand_computation(stage, gain):
    loss, parts = objective(L1, L2, MASK, GOLD, REF1, REF2, stage, W)
    assert float(loss.detach()) == pytest.approx(-gain, abs=1e-6)
    assert (float(parts["reward_t1"]), float(parts["reward_t2"])) == pytest.approx((R1, R2))
    assert (float(parts["kl_t1"]), float(parts["kl_t2"])) == pytest.approx((KL1, KL2))


def test_attempt_two_terms_do_not_move_attempt_one():
    """Stage I without KL: the gradient reaches attempt 2's logits only (per-turn rewards)."""
    l1, l2 = L1.detach().clone().requires_grad_(), L2.detach().clone().requires_grad_()
    loss, _ = objective(l1, l2, MASK, GOLD, REF1, REF2, "stage1", ScoreWeights(0.0, 0.0, 0.0))
    loss.backward()
    assert torch.all(l1.grad == 0) and torch.any(l2.grad != 0)
    # d(-E r2)/d logit2[a=1, gold] = -π1[1] * π2[0|1] * (1 - π2[0|1]) = -0.75 * 0.25
    assert float(l2.grad[0, 1, 0]) == pytest.approx(-0.75 * 0.25)


def test_shaping_scales_attempt_two_and_padded_options_count_for_nothing():
    base, _ = objective(L1, L2, MASK, GOLD, REF1, REF2, "stage2", ScoreWeights(0.0, 0.0, 0.0))
    shaped, _ = objective(L1, L2, MASK, GOLD, REF1, REF2, "stage2", ScoreWeights(0.0, 0.0, 10.0))
    assert float((shaped - base).detach()) == pytest.approx(-10 * BONUS)
    # A third, padded option changes nothing.
    l1 = torch.tensor([[0.0, math.log(3), 5.0]])
    l2 = torch.tensor([[[math.log(9), 0.0, 5.0], [0.0, 0.0, 5.0], [1.0, 2.0, 3.0]]])
    ref1 = torch.cat([REF1, torch.zeros(1, 1)], dim=1)
    ref2 = torch.zeros(1, 3, 3)
    ref2[:, :2, :2] = REF2
    padded, _ = objective(l1, l2, torch.tensor([[True, True, False]]), GOLD, ref1, ref2, "stage2", W)
    plain, _ = objective(L1, L2, MASK, GOLD, REF1, REF2, "stage2", W)
    assert float(padded.detach()) == pytest.approx(float(plain.detach()), abs=1e-6)


def test_nothing_to_train_is_one_line(tmp_path, data_dir):
    from salam.errors import SalamError
    from salam.train.score.train import ScoreConfig, train_score

    config = ScoreConfig(out=tmp_path / "s", tasks=["Age"], limit=4, data_dir=str(data_dir), stage1_steps=0, stage2_steps=0)
    with pytest.raises(SalamError, match="nothing to train"):
        train_score(config, log=lambda m: None)


@pytest.mark.slow
def test_both_stages_on_real_questions_then_answer_through_the_spec(tmp_path, data_dir):
    from salam.answering.answerer import Answerer
    from salam.models import resolve_chat_model
    from salam.train.folder import TrainDir
    from salam.train.score.train import ScoreConfig, train_score

    config = ScoreConfig(out=tmp_path / "score", tasks=["Age"], limit=8, validation=4, stage1_steps=2, stage2_steps=2,
                         batch_size=2, eval_every=2, data_dir=str(data_dir))
    summary = train_score(config, log=lambda m: None)
    stage1, stage2 = summary["stages"]
    assert (stage1["stage"], stage2["stage"]) == ("stage1", "stage2") and stage2["continued_from"] == stage1["spec"]
    assert summary["spec"] == f"local+lora:{tmp_path / 'score' / 'stage2'}"
    assert [v["step"] for v in stage2["validation"]] == [0, 2] and stage2["curve"][0]["reward_t2"] >= 0
    assert (tmp_path / "score" / "reference.json").is_file() and TrainDir(tmp_path / "score").manifest()["method"] == "score"
    from salam.train.base import training_questions

    _, validation = training_questions(config)
    attempts = Answerer(resolve_chat_model(summary["spec"]), "choice").answer([(q, "") for q in validation])
    assert sum(a.correct for a in attempts) / len(attempts) == pytest.approx(stage2["validation"][-1]["acc_t1"], abs=1 / len(attempts))
