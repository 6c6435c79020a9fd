"""Letter examples that share a question, trained with one pass over the question.

Verify-then-revise trains three kinds of letter examples on the same question: the answer, the verdict
on a first answer, and the revision after a "wrong" verdict. Their prompts all begin with the question
(most of their tokens) and differ in their last lines. Grouping a question's examples into one row and
running :mod:`salam.train.shared_prefix` over each group reads the question once per step instead of
once per example, with the same logits and gradients as the full prompts (a test checks it); the loss
is the mean letter cross-entropy over every example of the batch, as :mod:`salam.train.letters` computes it.
A batch is as many questions, with all their examples, as make about ``batch_size`` examples, so a step
does the same work as before and ``--batch-size`` keeps its meaning.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Sequence

from salam.train.base import OnLog, TrainConfig
from salam.train.letters import LetterExample

if TYPE_CHECKING:
    from salam.train.folder import TrainDir


def group_row(examples: Sequence[LetterExample]) -> dict[str, Any]:
    """One question's examples as one trainer row."""
    return {"prompts": [e.prompt for e in examples], "letters": [list(e.letters) for e in examples],
            "targets": [e.target for e in examples]}


def shuffled_groups(groups: dict[str, list[LetterExample]], rng: random.Random) -> list[list[LetterExample]]:
    """The groups in a seeded random order, each group's examples shuffled too (so no role always comes first)."""
    ordered = [list(members) for _, members in sorted(groups.items())]
    for members in ordered:
        rng.shuffle(members)
    rng.shuffle(ordered)
    return ordered


class GroupedLetterCollator:
    """Rows of grouped examples -> the shared-prefix batch, the option token ids and the target of every example."""

    def __init__(self, tokenizer: Any, max_length: int = 1024) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from salam.models.local import format_user
        from salam.train.letters import option_tensors
        from salam.train.shared_prefix import encode_groups

        groups = [[format_user(self.tokenizer, p) for p in r["prompts"]] for r in rows]
        letters = [list(ls) for r in rows for ls in r["letters"]]
        targets = [t for r in rows for t in r["targets"]]
        option_ids, option_mask = option_tensors(self.tokenizer, letters)
        return {**encode_groups(self.tokenizer, groups, self.max_length), "option_ids": option_ids,
                "option_mask": option_mask, "target_index": torch.tensor([ls.index(t) for ls, t in zip(letters, targets)])}


def grouped_option_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Logits of every example's option letters after its full prompt, each question read once."""
    from salam.train.shared_prefix import last_logits

    logits = last_logits(model, batch).float()
    return logits.gather(1, batch["option_ids"]).masked_fill(~batch["option_mask"], float("-inf"))


def grouped_letter_trainer_class() -> type:
    """``GroupedLetterTrainer``, built on first use so that importing salam does not import transformers."""
    import torch.nn.functional as F
    from transformers import Trainer

    class GroupedLetterTrainer(Trainer):
        """A ``transformers.Trainer`` whose loss is the letter cross-entropy of every example of its question groups."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            logits = grouped_option_logits(model, inputs)
            loss = F.cross_entropy(logits, inputs["target_index"])
            return (loss, {"logits": logits}) if return_outputs else loss

    return GroupedLetterTrainer


def fit_grouped_letters(config: TrainConfig, model: Any, tokenizer: Any, groups: Sequence[Sequence[LetterExample]],
                        folder: "TrainDir", on_log: OnLog | None = None) -> dict[str, Any]:
    """Train ``model`` on groups of letter examples (one group per question), about ``config.batch_size`` examples a
    step; manifest fields of the run."""
    from dataclasses import replace

    from salam.train.trainer import fit

    prompts = [e.prompt for g in groups for e in g]
    per_group = len(prompts) / max(1, len(groups))
    per_step = max(1, round(config.batch_size / per_group))
    fields = fit(replace(config, batch_size=per_step), model, [group_row(g) for g in groups],
                 GroupedLetterCollator(tokenizer, config.max_length), grouped_letter_trainer_class(), folder, on_log,
                 sum(len(ids) for ids in tokenizer(prompts)["input_ids"]))
    # fit counts rows (questions); the manifest counts examples
    return {**fields, "examples": len(prompts), "examples_per_second": fields["examples_per_second"] * per_group,
            "question_groups": len(groups), "questions_per_step": per_step}
