"""SCoRe's two-attempt objective in choice mode, computed exactly (no sampling).

With letter answers the policy over a question's options is a softmax over a few logits, so every
expectation is a finite sum: attempt 1 is one forward pass (``π1``), attempt 2 one forward pass per
possible first answer ``a`` (``π2(·|a)``, the correction prompt showing ``a``). With ``g`` the gold
option and ``ρ`` the reference model's distributions (the starting model, computed once before
training):

- ``E r1 = π1[g]``; ``E r2 = Σ_a π1[a] π2[g|a]``;
- ``KL1 = KL(π1 ‖ ρ1)``; ``KL2 = Σ_a π1[a] KL(π2(·|a) ‖ ρ2(·|a))``.

Rewards are per turn, as in SCoRe's multi-turn formulation with the shaped bonus on attempt 2: the
attempt-1 policy is credited with ``r1`` only, the attempt-2 policy with ``r2`` (+ ``α(r2 − r1)`` in
stage II), so the weights ``π1[a]`` in attempt 2's terms carry no gradient. Stage I maximises
``E r2 − β2 KL1 − β1 KL2`` (attempt 1 held near the reference); stage II maximises
``E r1 + E r2 + α E[r2 − r1] − β1 (KL1 + KL2)``. Note what exactness does to shaping: for a fixed first
answer the bonus's gradient is ``α ∇π2[g|a]``, so α here weighs attempt 2 against attempt 1 and the
KL terms (it cannot tell i→c from c→c within an expectation as a sampled bonus does).

Written by hand: TRL's GRPO and RLOO trainers sample completions and estimate advantages; with a
handful of options the exact expectation is cheaper and has no variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Stage = Literal["stage1", "stage2", "single-turn"]


@dataclass(frozen=True)
class ScoreWeights:
    beta1: float = 0.01
    """KL weight of stage II (both attempts) and of attempt 2 in stage I."""
    beta2: float = 0.1
    """KL weight of attempt 1 in stage I (keeps the first answer near the reference)."""
    alpha: float = 10.0
    """Shaped bonus α·(r2 − r1) on attempt 2 in stage II."""


def masked_softmax(logits: Any, mask: Any) -> tuple[Any, Any]:
    """(probabilities, log-probabilities) over each row's options; padded options get 0."""
    import torch

    logits = logits.masked_fill(~mask, float("-inf"))
    logp = torch.log_softmax(logits, dim=-1)
    return logp.exp().masked_fill(~mask, 0.0), logp.masked_fill(~mask, 0.0)


def kl(p: Any, logp: Any, logq: Any) -> Any:
    """KL(p ‖ q) over the last axis, from p, log p and log q (padded entries have p = 0)."""
    return (p * (logp - logq)).sum(dim=-1)


def objective(logits1: Any, logits2: Any, mask: Any, gold: Any, ref_logp1: Any, ref_logp2: Any, stage: Stage,
              weights: ScoreWeights) -> tuple[Any, dict[str, Any]]:
    """Loss (to minimise) and its parts for a batch.

    ``logits1`` [B, n] attempt 1's option logits; ``logits2`` [B, n, n] attempt 2's given each first
    answer; ``mask`` [B, n] real options; ``gold`` [B] the gold option index; ``ref_logp1`` [B, n] and
    ``ref_logp2`` [B, n, n] the reference's log-probabilities.
    """
    import torch

    p1, logp1 = masked_softmax(logits1, mask)
    p2, logp2 = masked_softmax(logits2, mask[:, None, :].expand_as(logits2))
    rows = torch.arange(len(gold))
    r1 = p1[rows, gold]                                   # E r1
    r2_given = p2[rows, :, gold]                          # [B, n]: π2[g | a]
    weight1 = p1.detach()                                 # attempt 2's terms do not move attempt 1
    r2 = (weight1 * r2_given).sum(dim=-1)                 # E r2
    kl1 = kl(p1, logp1, ref_logp1)
    kl2 = (weight1 * kl(p2, logp2, ref_logp2)).sum(dim=-1)
    first_right = torch.nn.functional.one_hot(gold, logits1.shape[-1]).to(p1.dtype)
    bonus = (weight1 * (r2_given - first_right)).sum(dim=-1)   # E[r2 − r1] under the (fixed) first answers
    if stage == "stage1":
        gain = r2 - weights.beta2 * kl1 - weights.beta1 * kl2
    elif stage == "stage2":
        gain = r1 + r2 + weights.alpha * bonus - weights.beta1 * (kl1 + kl2)
    else:  # single-turn ablation: attempt 1 only
        gain = r1 - weights.beta1 * kl1
    parts = {"reward_t1": r1.mean().detach(), "reward_t2": (p1.detach() * r2_given).sum(-1).mean().detach(),
             "kl_t1": kl1.mean().detach(), "kl_t2": kl2.mean().detach()}
    return -gain.mean(), parts
