"""The shared-prefix forward gives the logits of the full prompts, gradients included."""

from salam.train.shared_prefix import common_length


def test_common_length_leaves_every_prompt_a_token_of_its_own():
    assert common_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3, 9]]) == 2
    assert common_length([[1, 2, 3], [1, 2, 3]]) == 2  # identical prompts still keep their last token
    assert common_length([[7], [7, 8]]) == 0
    assert common_length([[1, 2], [3, 4]]) == 0


def test_shared_prefix_logits_and_gradients_equal_the_full_prompts(tiny_gemma):
    import torch

    from salam.models.local import encode_prompts, format_user
    from salam.train.shared_prefix import encode_groups, last_logits

    model, tokenizer = tiny_gemma
    questions = ["Question: Who was late?\n(A) the old man (B) the young man (C) unknown",
                 "Question: 2 + 2 = ?\n(A) 4 (B) 5 (C) 22, a longer question than the first one to pad the prefix"]
    endings = ["Answer: (", "First answer: (A)\nCheck it.\nFinal answer: (", "First answer: (B)\nFinal answer: ("]
    groups = [[format_user(tokenizer, f"{q}\n{e}") for e in endings] for q in questions]
    batch = encode_groups(tokenizer, groups, 1024)
    assert batch["prefix_ids"].shape[0] == 2 and batch["suffix_ids"].shape[0] == 6
    assert batch["suffix_ids"].shape[1] < batch["prefix_ids"].shape[1]  # the question is read once

    shared = last_logits(model, batch)
    shared[:, :100].sum().backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    full = model(**encode_prompts(tokenizer, [t for g in groups for t in g], 1024), logits_to_keep=1).logits[:, -1, :]
    full[:, :100].sum().backward()
    assert torch.allclose(shared, full, atol=1e-4)
    assert all(torch.allclose(a, p.grad, atol=1e-4) for a, p in zip(grads, [p for p in model.parameters() if p.grad is not None]))


def test_groups_of_different_sizes_read_each_question_once_with_the_full_prompts_loss(tiny_gemma):
    """Verify's grouped training: a question with three examples next to one with one, the same letter loss and
    gradients as the four prompts one by one."""
    import torch
    import torch.nn.functional as F

    from salam.train.grouped_letters import GroupedLetterCollator, group_row, grouped_option_logits
    from salam.train.letters import LetterCollator, LetterExample, option_logits

    model, tokenizer = tiny_gemma
    model.zero_grad()  # the fixture's model is shared with the test above
    first = "Question: Who was late?\n(A) the old man (B) the young man (C) unknown\n"
    second = "Question: Is 7 prime?\n(A) yes (B) no\n"
    groups = [[LetterExample(first + "Answer: (", ("A", "B", "C"), "C"),
               LetterExample(first + "Proposed answer: (A)\nVerdict: (", ("A", "B"), "B"),
               LetterExample(first + "A first answer, (A), was judged wrong.\nAnswer: (", ("A", "B", "C"), "C")],
              [LetterExample(second + "Answer: (", ("A", "B"), "A")]]
    batch = GroupedLetterCollator(tokenizer)([group_row(g) for g in groups])
    assert batch["suffix_group"].tolist() == [0, 0, 0, 1]
    loss = F.cross_entropy(grouped_option_logits(model, batch), batch["target_index"])
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    flat = LetterCollator(tokenizer)([e.as_row() for g in groups for e in g])
    full = F.cross_entropy(option_logits(model, flat), flat["target_index"])
    full.backward()
    assert torch.allclose(loss, full, atol=1e-5)
    assert all(torch.allclose(a, p.grad, atol=1e-4) for a, p in zip(grads, [p for p in model.parameters() if p.grad is not None]))
