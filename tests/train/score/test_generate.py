"""SCoRe's generate mode: leave-one-out advantages, the per-token KL, and the sampled objective."""

import pytest

from salam.train.score.generate import leave_one_out
from salam.types import Question


def test_leave_one_out_subtracts_the_mean_of_the_other_samples():
    assert leave_one_out([1.0, 0.0, 0.0, 0.0]) == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3])
    assert leave_one_out([1.0, 1.0]) == [0.0, 0.0]          # a constant reward teaches nothing
    assert leave_one_out([0.5]) == [0.0]


def test_per_token_kl_is_zero_against_itself_and_positive_otherwise():
    import torch

    from salam.train.score.generate import per_token_kl

    logps = torch.tensor([[-1.0, -2.0, 0.0]])
    mask = torch.tensor([[True, True, False]])
    assert float(per_token_kl(logps, logps, mask)) == 0.0
    assert float(per_token_kl(logps, logps - 0.5, mask)) > 0


def test_completion_logps_are_the_log_probabilities_of_the_completion_tokens(tiny_gemma):
    import torch

    from salam.models.local import encode_prompts, format_user
    from salam.train.score.generate import completion_logps

    model, tokenizer = tiny_gemma
    prompts = [format_user(tokenizer, "Question: 2 + 2?\nAnswer:"), format_user(tokenizer, "Question: a longer one, 3 + 3?\nAnswer:")]
    completions = [[236743, 236812], [236770]]
    logps, mask = completion_logps(model, tokenizer, prompts, completions)
    assert mask.tolist() == [[True, True], [False, True]]
    for row, (prompt, completion) in enumerate(zip(prompts, completions)):
        ids = encode_prompts(tokenizer, [prompt])["input_ids"][0].tolist() + completion
        with torch.no_grad():
            full = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        expected = [float(full[len(ids) - len(completion) - 1 + j, t]) for j, t in enumerate(completion)]
        assert logps[row][mask[row]].tolist() == pytest.approx(expected, abs=1e-4)


def test_the_sampled_objective_pushes_each_turn_by_its_own_advantage(tiny_gemma, monkeypatch):
    import torch

    import salam.train.score.generate as sg
    from salam.models.local import format_user
    from salam.train.score.objective import ScoreWeights

    model, tokenizer = tiny_gemma
    q = Question(id="q", text="2 + 2?", options=["4", "5"], answer="A")
    p1, p2 = format_user(tokenizer, "first"), format_user(tokenizer, "second")
    fixed = [sg.Sampled(q, p1, [p2, p2], [[236776], [236799]], [[236776], [236776]], ["A", "B"], ["A", "A"],
                        [1.0, 0.0], [1.0, 1.0])]
    monkeypatch.setattr(sg, "rollout", lambda *a, **k: fixed)
    weights = ScoreWeights(beta1=0.01, beta2=0.1, alpha=10.0)
    loss, parts = sg.generate_objective(model, model, tokenizer, [q], "stage2", weights, 2, 1.0)
    lp1, _ = sg.completion_logps(model, tokenizer, [p1, p1], [[236776], [236799]])
    lp2, _ = sg.completion_logps(model, tokenizer, [p2, p2], [[236776], [236776]])
    # attempt 1: RLOO of r1 = (1, -1); attempt 2: r2 + 10 (r2 - r1) = (1, 11) -> RLOO (-10, 10); KL 0 (same model)
    expected = -(torch.tensor([1.0, -1.0]) * lp1.sum(-1)).mean() - (torch.tensor([-10.0, 10.0]) * lp2.sum(-1)).mean()
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-4)
    assert parts["reward_t1"] == 0.5 and parts["reward_t2"] == 1.0 and parts["kl_t1"] == pytest.approx(0.0, abs=1e-6)
    stage1, _ = sg.generate_objective(model, model, tokenizer, [q], "stage1", weights, 2, 1.0)
    assert float(stage1.detach()) == pytest.approx(0.0, abs=1e-5)   # r2 constant, attempt 1 only held by its (zero) KL


def test_an_unknown_mode_is_one_line(tmp_path, data_dir):
    from salam.errors import SalamError
    from salam.train.score.train import ScoreConfig

    with pytest.raises(SalamError, match="--mode must be one of choice, generate, not 'sample'"):
        ScoreConfig(out=tmp_path / "s", tasks=["Age"], limit=2, data_dir=str(data_dir), mode="sample")
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
def test_generate_mode_trains_both_stages_and_answers_through_the_spec(tmp_path, data_dir):
    from salam.answering.answerer import Answerer
    from salam.models import resolve_chat_model
    from salam.train.base import training_questions
    from salam.train.score.train import ScoreConfig, train_score

    config = ScoreConfig(out=tmp_path / "g", tasks=["Age"], limit=4, validation=4, stage1_steps=1, stage2_steps=1,
                         batch_size=2, eval_every=1, generations=2, mode="generate", data_dir=str(data_dir))
    summary = train_score(config, log=lambda m: None)
    stage2 = summary["stages"][-1]
    assert stage2["mode"] == "generate" and stage2["steps"] == 1 and "constant_reward_questions" in stage2
    assert {"reward_t1", "reward_t2", "kl_t1", "kl_t2"} <= set(stage2["curve"][0])
    _, validation = training_questions(config)
    attempts = Answerer(resolve_chat_model(summary["spec"]), "generate").answer([(q, "") for q in validation])
    assert sum(a.correct for a in attempts) / len(attempts) == pytest.approx(stage2["validation"][-1]["acc_t1"], abs=1 / len(attempts))
