"""The reinforcement variant of verify-then-revise (after PAG's objective), computed exactly in choice mode.

With letter answers every turn's policy is a softmax over a few logits, so each expectation is a finite
sum, as :mod:`salam.train.score.objective` does for SCoRe. For a question with gold option ``g``: ``π1``
over the options after the answer prompt; for every possible first answer ``a``, ``v_a`` = P(wrong)
after the verification prompt showing ``a`` and ``π2(·|a)`` after the revision prompt. Each turn is
credited with its own return (PAG's turn-independent optimisation; the weights ``π1[a]`` of the later
turns carry no gradient):

- policy: ``E r1 = π1[g]``;
- verifier: ``Σ_a π1[a] · (v_a (1 − r_a) + (1 − v_a) r_a)`` — the verdict's accuracy, so calling a right
  answer wrong (the revision of a right answer, which can only break it) is the penalty;
- revision: ``Σ_a π1[a] (1 − r_a) (1 + α) π2[g|a]`` — the revision of a wrong answer, with PAG's bonus α
  for a wrong → right fix.

Per-role normalisation (PAG's RoleAdvNorm) becomes, for exact expectations, weighting each role's term by
one over its batch mean weight (the verdicts on right and on wrong answers apart, each amplified at most
10x), so a rare role (few wrong first answers from a model that is mostly right) still moves its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VerifyWeights:
    alpha: float = 1.0
    """Bonus on a wrong → right revision (PAG's revision bonus)."""
    normalise_roles: bool = True
    """Scale the verifier's and the revision's terms by their batch weight (PAG's per-role normalisation)."""


def objective(logits1: Any, verdicts: Any, logits2: Any, mask: Any, gold: Any, weights: VerifyWeights) -> tuple[Any, dict[str, Any]]:
    """Loss (to minimise) and its parts: ``logits1`` [B, n], ``verdicts`` [B, n, 2] (A correct, B wrong) and
    ``logits2`` [B, n, n] after each possible first answer, ``mask`` [B, n] real options, ``gold`` [B]."""
    import torch

    from salam.train.score.objective import masked_softmax

    pi1, _ = masked_softmax(logits1, mask)
    v = torch.softmax(verdicts.float(), dim=-1)[..., 1].masked_fill(~mask, 0.0)  # P(wrong | a)
    pi2, _ = masked_softmax(logits2, mask[:, None, :].expand_as(logits2))
    r = torch.nn.functional.one_hot(gold, logits1.shape[-1]).float() * mask
    weight = pi1.detach()  # later turns are credited with their own return only
    policy = (pi1 * r).sum(-1)
    verifier = (weight * (v * (1 - r) + (1 - v) * r)).sum(-1)
    fixed = pi2.gather(-1, gold[:, None, None].expand(-1, logits2.shape[1], 1)).squeeze(-1)  # π2[g|a]
    revision = (weight * (1 - r) * (1 + weights.alpha) * fixed).sum(-1)
    wrong_weight = (weight * (1 - r)).sum(-1)
    if weights.normalise_roles:  # each role (and each kind of verdict) weighs alike, however rare its cases
        right_part, wrong_part = (weight * r * (1 - v)).sum(-1), (weight * (1 - r) * v).sum(-1)
        verifier = 0.5 * (right_part / (1 - wrong_weight).mean().clamp_min(0.1) + wrong_part / wrong_weight.mean().clamp_min(0.1))
        revision = revision / wrong_weight.mean().clamp_min(0.1)
    loss = -(policy.mean() + verifier.mean() + revision.mean())
    parts = {"reward_t1": policy.mean().detach(), "verdict_accuracy": verifier.mean().detach(),
             "fix_if_revised": ((weight * (1 - r) * fixed).sum(-1).sum() / wrong_weight.sum().clamp_min(1e-6)).detach(),
             "p_wrong_when_right": ((weight * r * v).sum() / (weight * r).sum().clamp_min(1e-6)).detach(),
             "p_wrong_when_wrong": ((weight * (1 - r) * v).sum() / wrong_weight.sum().clamp_min(1e-6)).detach()}
    return loss, parts


class VerifyCollator:
    """Rows -> each question's 1 + 2n prompts (answer; verification and revision after each option) as one batch."""

    def __init__(self, tokenizer: Any, max_length: int = 1024) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from salam.models.local import encode_prompts, format_user, letter_token_ids
        from salam.train.letters import option_tensors

        width = max(len(r["letters"]) for r in rows)
        texts = []
        for r in rows:
            pad = width - len(r["letters"])  # padded options repeat the first prompt and are masked out
            verify = r["verify"] + [r["verify"][0]] * pad
            revise = r["revise"] + [r["revise"][0]] * pad
            texts += [format_user(self.tokenizer, t) for t in [r["answer"], *verify, *revise]]
        option_ids, mask = option_tensors(self.tokenizer, [r["letters"] for r in rows])
        return {**encode_prompts(self.tokenizer, texts, self.max_length), "option_ids": option_ids, "option_mask": mask,
                "verdict_ids": torch.tensor(letter_token_ids(self.tokenizer, ["A", "B"])),
                "gold": torch.tensor([r["letters"].index(r["gold"]) for r in rows])}


def turn_logits(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(answer logits [B, n], verdict logits [B, n, 2], revision logits [B, n, n]) from one forward pass."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=1)
    last = out.logits[:, -1, :].float()
    b, n = batch["option_ids"].shape
    last = last.view(b, 1 + 2 * n, -1)
    answer = last[:, 0, :].gather(1, batch["option_ids"])
    verdicts = last[:, 1 : 1 + n, :][..., batch["verdict_ids"]]
    revisions = last[:, 1 + n :, :].gather(2, batch["option_ids"][:, None, :].expand(b, n, n))
    return answer, verdicts, revisions


def verify_trainer_class() -> type:
    """``VerifyTrainer``, built on first use so that importing salam does not import transformers."""
    from transformers import Trainer

    class VerifyTrainer(Trainer):
        """A ``transformers.Trainer`` whose loss is the exact verify-then-revise objective."""

        weights: VerifyWeights = VerifyWeights()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.curve: list[dict[str, float]] = []

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            answer, verdicts, revisions = turn_logits(model, inputs)
            loss, parts = objective(answer, verdicts, revisions, inputs["option_mask"], inputs["gold"], self.weights)
            self.curve.append({"step": self.state.global_step, **{k: float(v) for k, v in parts.items()}})
            return (loss, {}) if return_outputs else loss

    return VerifyTrainer
