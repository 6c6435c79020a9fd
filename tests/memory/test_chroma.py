"""Memory folders: another embedder, foreign and corrupted folders are refused."""

from __future__ import annotations

import pytest
from helpers import rec

from salam.errors import StoreError
from salam.memory import MistakeMemory


def test_embedder_mismatch_is_refused(tmp_path, hash_embedder):
    from salam.testing import HashEmbedder

    with MistakeMemory.open(tmp_path / "m", embedder=hash_embedder) as mem:
        mem.add([rec("x y z")])
    with pytest.raises(StoreError, match="built with embedder"):
        MistakeMemory.open(tmp_path / "m", embedder=HashEmbedder(dim=32))
    with MistakeMemory.open(tmp_path / "m") as again:  # no embedder given: the stored one is used
        assert again.embedder.name == hash_embedder.name


def test_foreign_and_corrupted_folders(tmp_path, hash_embedder):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a salam memory"):
        MistakeMemory.open(foreign, embedder=hash_embedder)
    assert (foreign / "notes.txt").read_text() == "mine"
    broken = tmp_path / "broken"
    with MistakeMemory.open(broken, embedder=hash_embedder) as mem:
        mem.add([rec("a b c")])
    (broken / "salam.json").write_text("{not json")
    with pytest.raises(StoreError, match="corrupted"):
        MistakeMemory.open(broken, embedder=hash_embedder)
    with pytest.raises(StoreError, match="no memory"):
        MistakeMemory.open(tmp_path / "absent", embedder=hash_embedder, create=False)
