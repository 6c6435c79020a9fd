"""Score several prompts that share a beginning with one pass over that beginning.

SCoRe's choice-mode objective reads one letter distribution for attempt 1 and one for each possible
first answer at attempt 2: 1 + n prompts per question that all start with the chat header and the
question (most of their tokens) and differ only in their last lines. Running the shared prefix once,
its key/value cache repeated for each continuation, and only the different endings after it, halves
the tokens the model reads and backpropagates through, with the same logits as the full prompts.

The prompts are tokenised whole by :func:`salam.models.local.encode_prompts` (the one tokenisation of
training and evaluation) and split on their longest common token prefix, so the split can never
change a token. Written here because transformers has no batched shared-prefix forward with
gradients (its prefix caching is for generation, one prompt at a time).
"""

from __future__ import annotations

from typing import Any, Sequence


def common_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix, leaving every sequence at least one token of its own."""
    shortest = min(len(s) for s in sequences)
    length = 0
    while length < shortest - 1 and all(s[length] == sequences[0][length] for s in sequences):
        length += 1
    return length


def encode_groups(tokenizer: Any, groups: Sequence[Sequence[str]], max_length: int) -> dict[str, Any]:
    """Groups of formatted prompts -> the shared-prefix batch of :func:`last_logits`.

    ``prefix_ids``/``prefix_mask`` [G, P] (left-padded) hold each group's common beginning;
    ``suffix_ids``/``suffix_mask`` [N, S] (left-padded) the rest of each prompt, group-major, and
    ``suffix_group`` [N] the group each ending continues (groups may differ in size).
    """
    import torch

    from salam.models.local import encode_prompts

    flat = [text for group in groups for text in group]
    enc = encode_prompts(tokenizer, flat, max_length)
    ids = [row[mask.bool()].tolist() for row, mask in zip(enc["input_ids"], enc["attention_mask"])]
    prefixes, suffixes, owners, start = [], [], [], 0
    for g, group in enumerate(groups):
        members = ids[start : start + len(group)]
        start += len(group)
        cut = common_length(members)
        prefixes.append(members[0][:cut])
        suffixes += [m[cut:] for m in members]
        owners += [g] * len(members)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    prefix_ids, prefix_mask = _left_pad(prefixes, pad, torch)
    suffix_ids, suffix_mask = _left_pad(suffixes, pad, torch)
    return {"prefix_ids": prefix_ids, "prefix_mask": prefix_mask, "suffix_ids": suffix_ids, "suffix_mask": suffix_mask,
            "suffix_group": torch.tensor(owners, dtype=torch.long)}


def _left_pad(rows: list[list[int]], pad: int, torch: Any) -> tuple[Any, Any]:
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row):] = torch.tensor(row)
            mask[i, width - len(row):] = 1
    return ids, mask


def last_logits(model: Any, batch: dict[str, Any]) -> Any:
    """Next-token logits [G*k, V] after each full prompt: the prefixes once, then every ending on their cache.

    Positions: a prefix's real tokens end at ``P - 1`` (left padding shifts all of them alike, which
    rotary embeddings ignore); each ending continues from ``P`` however much padding it carries, the
    padding itself hidden by the attention mask.
    """
    import torch

    prefix_mask, suffix_mask, owners = batch["prefix_mask"], batch["suffix_mask"], batch["suffix_group"]
    name = cache_argument(model)
    out = model(input_ids=batch["prefix_ids"], attention_mask=prefix_mask, use_cache=True, logits_to_keep=1)
    cache = getattr(out, name)
    cache.batch_select_indices(owners)  # each ending gets its group's keys and values (a copy; gradients flow back)
    width = prefix_mask.shape[1]
    positions = (width + suffix_mask.cumsum(-1) - 1).clamp(min=width)
    mask = torch.cat([prefix_mask[owners], suffix_mask], dim=1)
    out = model(input_ids=batch["suffix_ids"], attention_mask=mask, position_ids=positions, use_cache=True,
                logits_to_keep=1, **{name: cache})
    return out.logits[:, -1, :]


def cache_argument(model: Any) -> str:
    """What the model's forward calls its key/value cache: ``cache`` from transformers 5.2x on (which warns on
    ``past_key_values`` and drops it in 5.40), ``past_key_values`` before; the outputs use the same name."""
    import inspect

    inner = model
    while hasattr(inner, "module"):  # DistributedDataParallel and the like
        inner = inner.module
    if hasattr(inner, "get_base_model"):  # PEFT
        inner = inner.get_base_model()
    return "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"
