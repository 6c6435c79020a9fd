"""Shared fixtures: offline hub, real data from $SALAM_DATA_DIR, the fake model and hash embedder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("SALAM_LOCK_TIMEOUT", "5")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("SALAM_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("set SALAM_DATA_DIR to the benchmark data folder (CI sets ../shared/data)")
    return Path(value)


@pytest.fixture
def hash_embedder():
    from salam.testing import HashEmbedder

    return HashEmbedder()


@pytest.fixture
def memory(tmp_path, hash_embedder):
    from salam.memory import MistakeMemory

    mem = MistakeMemory.open(tmp_path / "memory", embedder=hash_embedder)
    yield mem
    mem.close()


@pytest.fixture(scope="session")
def local_model():
    from salam.models import resolve_chat_model

    return resolve_chat_model("local", max_new_tokens=8)
