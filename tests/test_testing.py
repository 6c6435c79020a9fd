"""The test kit users get: the scripted chat model and the hash embedder."""

from __future__ import annotations

from salam.testing import ScriptedChatModel


def test_scripted_model_replies_and_records_prompts():
    model = ScriptedChatModel(replies=["one", "two"])
    assert [model.invoke("a").content, model.invoke("b").content, model.invoke("c").content] == ["one", "two", "one"]
    assert model.prompts == ["human: a", "human: b", "human: c"]
    fn = ScriptedChatModel(reply_fn=lambda p: p.upper())
    reply = fn.invoke("hey")
    assert reply.content == "HUMAN: HEY" and reply.usage_metadata["total_tokens"] > 0


def test_hash_embedder_is_deterministic_and_normalised(hash_embedder):
    import numpy as np

    a = hash_embedder.embed(["the cat sat", "the cat sat", "dogs run"])
    assert np.allclose(a[0], a[1]) and np.isclose(np.linalg.norm(a[2]), 1.0)
    assert float(a[0] @ a[1]) > float(a[0] @ a[2])
