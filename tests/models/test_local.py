"""The local transformers backend on the real embedded model."""

from __future__ import annotations

import re

import pytest


@pytest.mark.slow
def test_local_model_invoke_batch_and_scores(local_model):
    reply = local_model.invoke("Which is larger, 7 or 9? Answer:")
    assert isinstance(reply.content, str) and reply.usage_metadata["output_tokens"] > 0
    prompts = ["AGE_QUESTION: What is the capital of France?\nA:", "AGE_QUESTION: 2+2=?\nA:", "AGE_QUESTION: Name a color.\nA:"]
    batched = [m.content for m in local_model.batch(prompts)]
    single = [local_model.invoke(p).content for p in prompts]
    assert batched == single  # greedy, left-padded batching changes nothing
    stopped = local_model.invoke("Count: 1, 2, 3,", stop=[","])
    assert "," not in stopped.content
    scores = local_model.score_options(["AGE_QUESTION: Is fire hot?\n(A) yes\n(B) no\nAnswer: ("], [["A", "B"]])
    assert len(scores[0]) == 2 and all(s < 0 for s in scores[0])


@pytest.mark.slow
def test_a_stop_pattern_ends_each_row_right_after_its_match(local_model):
    """Chain of thought stops after 'So the answer is X.': per row, the text is cut right after the match."""
    from langchain_core.messages import HumanMessage

    prompts = [local_model.format_prompt([HumanMessage("Count from 1 to 20:")])] * 2
    (full, *_), _ = local_model.generate_texts(prompts, max_new_tokens=24)
    piece = full.strip()[:6]
    assert piece and len(full.strip()) > len(piece)
    for text, *_ in local_model.generate_texts(prompts, max_new_tokens=24, stop_pattern=re.escape(piece)):
        assert text.endswith(piece) and len(text) < len(full)  # greedy: the same text, stopped at the match
