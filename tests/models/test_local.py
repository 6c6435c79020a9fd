"""The local transformers backend on the real embedded model."""

from __future__ import annotations

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
