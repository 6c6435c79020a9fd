"""Training on written answers (rationales, feedback, updates) with a weight per segment.

TriPosT weights the feedback and update tokens 1.5 and TRL's SFTTrainer has no per-token weights, so
this is a ``transformers.Trainer`` subclass with its own loss (it runs under ``accelerate launch``
unchanged). Prompts go through the local backend's own formatting and encoding (chat template, BOS),
so a trained model is asked exactly as it was taught. Rows are left-padded, so every completion ends
at the last position and the head runs only over the last positions that carry a weight
(``logits_to_keep``): with Gemma's 262k-token vocabulary the logits of the prompt and of weight-0
context would be most of the cost (an 18 GB peak on TriPosT's improvement examples before this).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class CompletionExample:
    """A prompt (the user turn) and the completion's segments, each with its loss weight (0: context only)."""

    prompt: str
    parts: tuple[tuple[str, float], ...]
    ends_turn: bool = True
    """Whether the model's turn ends here (the end-of-turn token is then a target), or goes on."""

    def as_row(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "texts": [t for t, _ in self.parts], "weights": [w for _, w in self.parts],
                "ends_turn": self.ends_turn}

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.parts)


class CompletionCollator:
    """Rows -> input ids, attention mask, labels (-100 off the completion) and a loss weight per position."""

    def __init__(self, tokenizer: Any, max_length: int = 1024) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def encode(self, row: dict[str, Any]) -> tuple[list[int], list[int], list[float]]:
        from salam.models.local import encode_prompts, end_of_turn_id, format_user

        prompt = encode_prompts(self.tokenizer, [format_user(self.tokenizer, row["prompt"])], self.max_length)["input_ids"][0].tolist()
        # The completion is tokenised whole, as the model reads it back when it continues its own turn;
        # each token takes the weight of the segment its first character is in.
        text = "".join(row["texts"])
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ends, total = [], 0
        for piece in row["texts"]:
            total += len(piece)
            ends.append(total)
        ids = list(enc["input_ids"])
        weights = [float(row["weights"][next((i for i, end in enumerate(ends) if start < end), len(ends) - 1)])
                   for start, _ in enc["offset_mapping"]]
        if row.get("ends_turn", True):
            ids.append(end_of_turn_id(self.tokenizer))
            weights.append(float(row["weights"][-1]) if row["weights"] else 1.0)
        room = max(1, self.max_length - len(ids))
        return prompt[-room:], ids[: self.max_length - 1], weights[: self.max_length - 1]

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        encoded = [self.encode(r) for r in rows]
        width = max(len(p) + len(c) for p, c, _ in encoded)
        # Only tokens with a weight need logits: the head runs from the first weighted token of any row on
        # (an improvement example's attempt is weight-0 context and often most of its completion).
        keep = max(2, max(len(c) - next((i for i, x in enumerate(w) if x > 0), len(w)) for _, c, w in encoded) + 1)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        weights = torch.zeros((len(rows), width), dtype=torch.float)
        for i, (prompt, completion, w) in enumerate(encoded):
            seq = prompt + completion
            start = width - len(seq)
            input_ids[i, start:] = torch.tensor(seq)
            attention[i, start:] = 1
            labels[i, width - len(completion):] = torch.tensor(completion)
            weights[i, width - len(completion):] = torch.tensor(w)
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "loss_weights": weights,
                "logits_to_keep": keep}


def weighted_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Weighted mean cross-entropy of the completion tokens; the head runs on the last positions only."""
    import torch.nn.functional as F

    keep = int(batch["logits_to_keep"])
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep)
    logits = out.logits[:, :-1, :].float()  # position t predicts token t + 1
    labels = batch["labels"][:, -(keep - 1):]
    weights = batch["loss_weights"][:, -(keep - 1):]
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100, reduction="none")
    weights = weights.reshape(-1) * (labels.reshape(-1) != -100)
    return (losses * weights).sum() / weights.sum().clamp(min=1e-9)


def completion_trainer_class() -> type:
    """``CompletionTrainer``, built on first use so that importing salam does not import transformers."""
    from transformers import Trainer

    class CompletionTrainer(Trainer):
        """A ``transformers.Trainer`` whose loss is the weighted cross-entropy over completion tokens."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            loss = weighted_loss(model, inputs)
            return (loss, {}) if return_outputs else loss

    return CompletionTrainer
