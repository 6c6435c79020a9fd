"""SCoRe in generate mode: sampled two-attempt trajectories, a leave-one-out (RLOO) baseline per turn.

For each question the policy samples ``generations`` first answers (temperature ``temperature``,
one line, as the bench's generate mode asks), then one second answer after each, through the
protocol's own attempt-2 prompt built from the *extracted* first answer. Rewards are exact match of
the extracted answers with the gold one. Credit is per turn, as in choice mode
(:mod:`salam.train.score.objective`): attempt 1 is pushed by r1 (stage II, single-turn), attempt 2 by
r2 (stage I) or r2 + α(r2 − r1) (stage II); each with the RLOO advantage (the reward minus the mean
of the other samples of the same question). The KL to the starting model is TRL's per-token
estimator exp(ρ − log π) − (ρ − log π) − 1 on the sampled tokens, weighted per turn (β2 on attempt
1 in stage I, β1 elsewhere).

Written as a ``transformers.Trainer`` loss rather than TRL's ``GRPOTrainer``/``RLOOTrainer``: those
score one sequence per sample (a ``rollout_func`` with ``env_mask`` can splice feedback tokens into it),
while a salam trajectory is two sequences — attempt 2 is a fresh prompt showing the extracted first
answer, the same prompt the bench and the other recipes use — with their own rewards and KL
weights. Folding both into one sequence would train the model in a conversation it never sees at
test time and with one advantage for both turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from salam.types import Question

GENERATE_MAX_NEW_TOKENS = 24
"""Tokens an attempt may write: the bench's generate mode asks for one short line."""


@dataclass
class Sampled:
    """One question's sampled trajectories: completions' token ids per turn, extracted answers, rewards."""

    question: Question
    prompt1: str
    prompts2: list[str]
    first: list[list[int]]
    second: list[list[int]]
    answers1: list[str | None]
    answers2: list[str | None]
    r1: list[float]
    r2: list[float]


def frozen_start(config: Any) -> Any:
    """The starting model (the base, or the base with the ``init`` adapter), frozen: the KL's reference."""
    from salam.train.base import load_base
    from salam.train.folder import adapter_of

    model, _, _, _ = load_base(config)
    adapter = adapter_of(config.init) if config.init else None
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    model.requires_grad_(False)
    return model.eval()


def sample_lines(model: Any, tokenizer: Any, prompts: Sequence[str], temperature: float, max_new_tokens: int) -> list[list[int]]:
    """One completion per formatted prompt, cut after its first newline or end of turn (as the bench stops)."""
    import torch

    from salam.models.local import encode_prompts, end_of_turn_id

    enc = encode_prompts(tokenizer, list(prompts))
    stops = sorted({tokenizer.eos_token_id, end_of_turn_id(tokenizer)})
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0} if temperature > 0 else \
        {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=stops, **sampling)
    if was_training:
        model.train()
    completions = []
    for ids in out[:, enc["input_ids"].shape[1]:].tolist():
        kept: list[int] = []
        for token in ids:
            if token == tokenizer.pad_token_id:
                break
            kept.append(token)
            if token in stops or "\n" in tokenizer.decode([token]):
                break
        completions.append(kept or [stops[0]])
    return completions


def rollout(model: Any, tokenizer: Any, questions: Sequence[Question], generations: int, temperature: float,
            guidance: dict[str, str] | None = None, max_new_tokens: int = GENERATE_MAX_NEW_TOKENS) -> list[Sampled]:
    """``generations`` two-attempt trajectories per question (attempt 2 after each sampled first answer and
    the question's guidelines from ``guidance``, if any)."""
    from salam.answering.answerer import answer_prompt
    from salam.answering.scoring import extract_answer, is_correct
    from salam.models.local import format_user
    from salam.selfcorrect.protocol import correction_prompt

    def answers(qs: Sequence[Question], completions: list[list[int]]) -> list[str | None]:
        return [extract_answer(q, tokenizer.decode(c, skip_special_tokens=True)) for q, c in zip(qs, completions)]

    repeated = [q for q in questions for _ in range(generations)]
    prompts1 = [format_user(tokenizer, answer_prompt(q)) for q in questions]
    first = sample_lines(model, tokenizer, [p for p in prompts1 for _ in range(generations)], temperature, max_new_tokens)
    answers1 = answers(repeated, first)
    guidance = guidance or {}
    prompts2 = [format_user(tokenizer, correction_prompt(q, a, guidance.get(q.id, ""))) for q, a in zip(repeated, answers1)]
    second = sample_lines(model, tokenizer, prompts2, temperature, max_new_tokens)
    answers2 = answers(repeated, second)
    out = []
    for i, q in enumerate(questions):
        part = slice(i * generations, (i + 1) * generations)
        out.append(Sampled(q, prompts1[i], prompts2[part], first[part], second[part], answers1[part], answers2[part],
                           [float(is_correct(q, a)) for a in answers1[part]], [float(is_correct(q, a)) for a in answers2[part]]))
    return out


def leave_one_out(rewards: Sequence[float]) -> list[float]:
    """RLOO advantages: each reward minus the mean of the others (0 for a single sample)."""
    n = len(rewards)
    if n < 2:
        return [0.0] * n
    total = sum(rewards)
    return [r - (total - r) / (n - 1) for r in rewards]


def completion_logps(model: Any, tokenizer: Any, prompts: Sequence[str], completions: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    """Per-token log-probabilities [N, C] of each completion after its formatted prompt, and their mask [N, C].

    The sequences are left-padded so every completion ends the row; the head runs on the last C + 1
    positions only (C the longest completion).
    """
    import torch

    from salam.models.local import encode_prompts

    enc = encode_prompts(tokenizer, list(prompts))
    rows = [[t for t, m in zip(ids, mask) if m] + list(c) for ids, mask, c in
            zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist(), completions)]
    width, longest = max(len(r) for r in rows), max(len(c) for c in completions)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    attention = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    logits = model(input_ids=ids, attention_mask=attention, logits_to_keep=longest + 1).logits[:, :-1, :].float()
    targets = ids[:, -longest:]
    logps = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None]).squeeze(-1)
    mask = torch.tensor([[0] * (longest - len(c)) + [1] * len(c) for c in completions], dtype=torch.bool)
    return logps.masked_fill(~mask, 0.0), mask


def per_token_kl(logps: Any, ref_logps: Any, mask: Any) -> Any:
    """TRL's k3 estimator of KL(π ‖ ρ) per sequence: mean over its tokens of exp(ρ − π) − (ρ − π) − 1."""
    diff = (ref_logps - logps).masked_fill(~mask, 0.0)
    return ((diff.exp() - diff - 1) * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def generate_objective(model: Any, reference: Any, tokenizer: Any, questions: Sequence[Question], stage: str, weights: Any,
                       generations: int, temperature: float, guidance: dict[str, str] | None = None) -> tuple[Any, dict[str, Any]]:
    """Loss (to minimise) and its parts (the choice-mode keys, plus ``constant_reward`` questions) for a batch."""
    import torch

    sampled = rollout(model, tokenizer, questions, generations, temperature, guidance)
    prompts1, prompts2, comps1, comps2, adv1, adv2 = [], [], [], [], [], []
    constant = 0
    for s in sampled:
        second_reward = s.r2 if stage == "stage1" else [b + weights.alpha * (b - a) for a, b in zip(s.r1, s.r2)]
        adv1 += leave_one_out(s.r1)
        adv2 += leave_one_out(second_reward)
        constant += len(set(s.r1)) == 1 and len(set(s.r2)) == 1   # no signal from this question: counted, not an error
        prompts1 += [s.prompt1] * generations
        prompts2 += s.prompts2
        comps1 += s.first
        comps2 += s.second
    turns = [(prompts1, comps1, torch.tensor(adv1), weights.beta2 if stage == "stage1" else weights.beta1, stage != "stage1")]
    if stage != "single-turn":
        turns.append((prompts2, comps2, torch.tensor(adv2), weights.beta1, True))
    loss = torch.zeros(())
    kls = []
    for prompts, comps, advantage, beta, pushed in turns:
        logps, mask = completion_logps(model, tokenizer, prompts, comps)
        with torch.no_grad():
            ref_logps, _ = completion_logps(reference, tokenizer, prompts, comps)
        kl = per_token_kl(logps, ref_logps, mask)
        kls.append(kl.mean().detach())
        turn_loss = beta * kl.mean()
        if pushed:   # stage I leaves attempt 1 to its KL term: it is held near the start, not rewarded
            turn_loss = turn_loss - (advantage * logps.sum(-1)).mean()
        loss = loss + turn_loss
    r1 = [r for s in sampled for r in s.r1]
    r2 = [r for s in sampled for r in s.r2]
    parts = {"reward_t1": sum(r1) / len(r1), "reward_t2": sum(r2) / len(r2), "kl_t1": float(kls[0]),
             "kl_t2": float(kls[1]) if len(kls) > 1 else 0.0, "constant_reward": float(constant)}
    return loss, parts


def generate_accuracy(model: Any, tokenizer: Any, questions: Sequence[Question], batch_size: int,
                      guidance: dict[str, str] | None = None) -> tuple[float, float]:
    """Greedy Acc@t1 and Acc@t2 through the protocol's generate mode, with the training tokenisation."""
    right1 = right2 = 0
    for start in range(0, len(questions), batch_size):
        for s in rollout(model, tokenizer, questions[start : start + batch_size], 1, 0.0, guidance):
            right1, right2 = right1 + int(s.r1[0]), right2 + int(s.r2[0])
    return right1 / max(1, len(questions)), right2 / max(1, len(questions))
