"""Training on multiple-choice answers: the loss is computed at the one position that carries it.

Gemma's 262k-token vocabulary makes the output layer most of a forward pass at ~150 tokens. An
answer here is one option letter after ``Answer: (``, so the model runs with ``logits_to_keep=1``
(the head is applied to the last position only) and the loss is the cross-entropy over the
question's option letters — exactly what letter scoring at evaluation compares. This lives inside a
``transformers.Trainer`` subclass (``compute_loss``), not a hand loop, so the same code runs under
``accelerate launch`` on several GPUs. Prompts are formatted and tokenised by the functions the local
backend uses to answer (:func:`salam.models.local.format_messages`, :func:`encode_prompts`), so
training and evaluation see the same tokens, BOS included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from salam.types import Question


@dataclass(frozen=True)
class LetterExample:
    """One prompt (as the Answerer writes it, ending ``... (``) and the letter the model should choose."""

    prompt: str
    letters: tuple[str, ...]
    target: str

    @classmethod
    def for_question(cls, question: Question, prompt: str, target: str | None = None) -> "LetterExample":
        return cls(prompt, tuple(question.letters), target or question.answer)

    def as_row(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "letters": list(self.letters), "target": self.target}


class LetterCollator:
    """Rows -> the tensors the trainer needs: input ids, attention mask, option token ids, target index."""

    def __init__(self, tokenizer: Any, max_length: int = 1024) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from salam.models.local import encode_prompts, format_user

        texts = [format_user(self.tokenizer, r["prompt"]) for r in rows]
        enc = encode_prompts(self.tokenizer, texts, self.max_length)
        option_ids, option_mask = option_tensors(self.tokenizer, [r["letters"] for r in rows])
        target = torch.tensor([r["letters"].index(r["target"]) for r in rows], dtype=torch.long)
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "option_ids": option_ids,
                "option_mask": option_mask, "target_index": target}


def option_tensors(tokenizer: Any, letter_lists: Sequence[Sequence[str]]) -> tuple[Any, Any]:
    """(token ids of each row's option letters, which of them are real), padded to the widest row."""
    import torch

    from salam.models.local import letter_token_ids

    width = max(len(letters) for letters in letter_lists)
    option_ids = torch.zeros((len(letter_lists), width), dtype=torch.long)
    option_mask = torch.zeros((len(letter_lists), width), dtype=torch.bool)
    for i, letters in enumerate(letter_lists):
        ids = letter_token_ids(tokenizer, letters)
        option_ids[i, : len(ids)] = torch.tensor(ids)
        option_mask[i, : len(ids)] = True
    return option_ids, option_mask


def option_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Logits of each row's option letters at the last position (the head runs on that position only)."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=1)
    logits = out.logits[:, -1, :].float()
    return logits.gather(1, batch["option_ids"]).masked_fill(~batch["option_mask"], float("-inf"))


def letter_trainer_class() -> type:
    """``LetterTrainer``, built on first use so that importing salam does not import transformers."""
    import torch.nn.functional as F
    from transformers import Trainer

    class LetterTrainer(Trainer):
        """A ``transformers.Trainer`` whose loss is the cross-entropy over the option letters at the answer position."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
            logits = option_logits(model, inputs)
            loss = F.cross_entropy(logits, inputs["target_index"])
            return (loss, {"logits": logits}) if return_outputs else loss

    return LetterTrainer


def letter_accuracy(model: Any, tokenizer: Any, examples: Sequence[LetterExample], batch_size: int = 8,
                    max_length: int = 1024) -> float:
    """Share of examples whose target letter scores highest, with the training tokenisation (a check
    that the saved model spec reproduces what training measured)."""
    import torch

    if not examples:
        return float("nan")
    collate = LetterCollator(tokenizer, max_length)
    right = 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(examples), batch_size):
            batch = collate([e.as_row() for e in examples[start : start + batch_size]])
            right += int((option_logits(model, batch).argmax(dim=1) == batch["target_index"]).sum())
    return right / len(examples)
